"""All websocket routes; each app that streams adds its list here."""

from django.urls import URLPattern

from apps.chat.routing import websocket_urlpatterns as chat_routes
from apps.knowledge.routing import websocket_urlpatterns as knowledge_routes
from apps.scenarios.routing import websocket_urlpatterns as scenario_routes

websocket_urlpatterns: list[URLPattern] = []
websocket_urlpatterns += chat_routes
websocket_urlpatterns += knowledge_routes
websocket_urlpatterns += scenario_routes
