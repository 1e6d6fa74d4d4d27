"""/scenarios/alert-triage/: the alerts page and one alert's triage."""

from django.urls import path

from apps.scenarios.alert_triage import views

app_name = "alert_triage"
urlpatterns = [
    path("", views.alerts, name="index"),
    path("<int:pk>/", views.detail, name="detail"),
    path("incidents/<int:pk>/", views.incident, name="incident"),
    path("incidents/<int:pk>/close/", views.close_incident, name="incident-close"),
]
