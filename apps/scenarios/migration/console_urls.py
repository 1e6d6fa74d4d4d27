"""/admin-console/scenarios/migration/: the RabbitMQ nodes the checklist may read."""

from django.urls import path

from apps.scenarios.migration import console

app_name = "rabbit_targets"
urlpatterns = [
    path("targets/", console.targets, name="list"),
    path("targets/new/", console.target_form, name="new"),
    path("targets/<int:pk>/", console.target_form, name="edit"),
    path("targets/<int:pk>/test/", console.target_test, name="test"),
    path("targets/<int:pk>/delete/", console.target_delete, name="delete"),
]
