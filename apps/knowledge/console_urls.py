"""/admin-console/knowledge/: sources, their jobs, the glossary."""

from django.urls import path

from apps.knowledge import console

app_name = "knowledge_console"
urlpatterns = [
    path("", console.sources, name="sources"),
    path("new/", console.source_form, name="source_new"),
    path("<int:pk>/", console.source_form, name="source_edit"),
    path("<int:pk>/<str:action>/", console.source_action, name="source_action"),
    path("glossary/", console.glossary_view, name="glossary"),
    path("glossary/<int:pk>/revert/", console.glossary_revert, name="glossary_revert"),
]
