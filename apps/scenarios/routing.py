"""Websocket routes of the scenarios (appended to portal/routing.py)."""

from django.urls import URLPattern, path

from apps.scenarios.consumers import RunConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/scenarios/runs/<int:run_id>/", RunConsumer.as_asgi()),
]
