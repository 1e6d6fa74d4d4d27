"""/scenarios/onboarding/: tracks, progress, questions, a lead's view."""

from django.urls import path

from apps.scenarios.onboarding import views

app_name = "onboarding"
urlpatterns = [
    path("", views.index, name="index"),
    path("tracks/<str:name>/", views.track_page, name="track"),
    path("tracks/<str:name>/steps/<str:step>/", views.progress, name="progress"),
    path("tracks/<str:name>/ask/", views.ask, name="ask"),
    path("tracks/<str:name>/team/", views.team, name="team"),
]
