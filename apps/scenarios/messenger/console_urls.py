"""/admin-console/scenarios/messenger/: is each messenger configured, who is linked."""

from django.urls import path

from apps.scenarios.messenger import console

app_name = "messenger_console"
urlpatterns = [path("", console.index, name="index")]
