"""/admin-console/llm/: the LLM backends console page."""

from django.urls import path

from apps.inference import console

app_name = "inference"
urlpatterns = [
    path("backends/", console.backends, name="backends"),
    path("backends/new/", console.backend_new, name="backend_new"),
    path("backends/<int:pk>/", console.backend_edit, name="backend_edit"),
    path("backends/<int:pk>/toggle/", console.backend_toggle, name="backend_toggle"),
]
