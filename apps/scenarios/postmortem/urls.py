"""/scenarios/postmortem/…: publishing a drafted post-mortem, and a published one."""

from django.urls import path

from apps.scenarios.postmortem import views

app_name = "postmortem"
urlpatterns = [
    path("summaries/", views.summaries, name="summaries"),
    path("runs/<int:pk>/publish/", views.publish_page, name="publish"),
    path("published/<int:pk>/", views.published, name="published"),
    path("incidents/<int:pk>/draft/", views.incident_draft, name="incident-draft"),
]
