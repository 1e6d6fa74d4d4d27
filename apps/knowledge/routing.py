"""Websocket routes of the knowledge app (appended to portal/routing.py)."""

from django.urls import URLPattern, path

from apps.knowledge.consumers import JobProgressConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/knowledge/jobs/", JobProgressConsumer.as_asgi()),
]
