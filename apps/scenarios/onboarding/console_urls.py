"""/admin-console/scenarios/onboarding/: tracks, broken links, unreadable track files."""

from django.urls import path

from apps.scenarios.onboarding import console

app_name = "onboarding_console"
urlpatterns = [
    path("", console.index, name="index"),
    path("tracks/<int:pk>/recheck/", console.recheck, name="recheck"),
]
