"""/admin-console/scenarios/alert-triage/: tokens, destinations, delivery failures."""

from django.urls import path

from apps.scenarios.alert_triage import console

app_name = "alert_triage_console"
urlpatterns = [
    path("", console.index, name="index"),
    path("tokens/", console.token_new, name="token_new"),
    path("tokens/<int:pk>/revoke/", console.token_revoke, name="token_revoke"),
    path("destinations/new/", console.destination_form, name="destination_new"),
    path("destinations/<int:pk>/", console.destination_form, name="destination_edit"),
    path("destinations/<int:pk>/delete/", console.destination_delete, name="destination_delete"),
]
