"""/scenarios/migration/runs/<id>/…: progress per step and the Markdown export (the page
itself is the engine's, /scenarios/migration/)."""

from django.urls import path

from apps.scenarios.migration import views

app_name = "migration"
urlpatterns = [
    path("runs/<int:pk>/progress/", views.progress, name="progress"),
    path("runs/<int:pk>/checklist.md", views.checklist_markdown, name="markdown"),
]
