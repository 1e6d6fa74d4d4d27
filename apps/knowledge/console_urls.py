"""/admin-console/knowledge/: sources, their jobs, the glossary."""

from django.urls import path

from apps.knowledge import console

app_name = "knowledge_console"
urlpatterns = [
    path("", console.sources, name="sources"),
]
