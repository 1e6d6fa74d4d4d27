"""/admin-console/scenarios/feedback/: what users said about scenario explanations."""

from django.urls import path

from apps.scenarios import console

app_name = "scenarios_console"
urlpatterns = [path("", console.feedback, name="feedback")]
