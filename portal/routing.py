"""All websocket routes; each app that streams adds its list here."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
