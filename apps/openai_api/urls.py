"""/v1/: the OpenAI-compatible API (docs/llm-gateway.md)."""

from django.urls import path

from apps.openai_api import views

app_name = "openai"
urlpatterns = [
    path("chat/completions", views.chat_completions, name="chat_completions"),
    path("models", views.models, name="models"),
]
