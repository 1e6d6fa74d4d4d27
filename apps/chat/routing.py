"""Websocket routes of the chat (appended to portal/routing.py)."""

from django.urls import URLPattern, path

from apps.chat.consumers import ChatConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/chat/<int:conversation_id>/", ChatConsumer.as_asgi()),
]
