"""/admin-console/scenarios/redis-advice/: the Redis instances the scenario may read."""

from django.urls import path

from apps.scenarios.redis_advice import console

app_name = "redis_targets"
urlpatterns = [
    path("targets/", console.targets, name="list"),
    path("targets/new/", console.target_form, name="new"),
    path("targets/<int:pk>/", console.target_form, name="edit"),
    path("targets/<int:pk>/test/", console.target_test, name="test"),
    path("targets/<int:pk>/delete/", console.target_delete, name="delete"),
]
