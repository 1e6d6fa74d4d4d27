"""/admin-console/feedback/: what users said about answers."""

from django.urls import path

from apps.chat import console

app_name = "chat_console"
urlpatterns = [
    path("", console.feedback, name="feedback"),
]
