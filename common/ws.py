"""Websocket consumers that answer a bad frame with an error frame and keep the socket.

Channels' JSON consumer decodes every frame with json.loads and lets the exception end the
consumer: a binary frame, a frame that is not JSON, or a deeply nested one (RecursionError)
dropped the connection without a close frame, and a browser tab then reconnected in a loop.
Here a frame must be text, at most MAX_FRAME characters, nested at most MAX_DEPTH levels
and valid JSON; otherwise the client gets {"type": "error", "code": ..., "message": ...}.
A handler that fails on a well-formed frame gets the same treatment.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from common.jsonsafe import too_deep

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024  # characters; the longest chat question is far shorter
MAX_DEPTH = 16


def frame_problem(text_data: str | None) -> tuple[str, str] | tuple[None, Any]:
    """(code, message) of what is wrong with a frame, or (None, the decoded JSON)."""
    if text_data is None:
        return "bad_frame", _("Binary frames are not accepted: send JSON text.")
    if len(text_data) > MAX_FRAME:
        return "bad_frame", _("The frame is longer than %(n)d characters.") % {"n": MAX_FRAME}
    if too_deep(text_data, MAX_DEPTH):
        return "bad_frame", _("The frame nests deeper than %(n)d levels.") % {"n": MAX_DEPTH}
    try:
        return None, json.loads(text_data)
    except (ValueError, RecursionError):
        return "bad_frame", _("The frame is not valid JSON.")


class SafeJsonConsumer(AsyncJsonWebsocketConsumer):
    """A JSON consumer whose socket survives any frame a client sends."""

    def frame_language(self) -> str:
        chosen = getattr(self, "language", "") or self.scope.get("cookies", {}).get(
            settings.LANGUAGE_COOKIE_NAME, ""
        )
        return chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE

    async def frame_error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        with translation.override(self.frame_language()):
            code, content = frame_problem(text_data)
            if code is not None:
                await self.frame_error(code, content)
                return
        try:
            await self.receive_json(content, **kwargs)
        except StopConsumer:
            raise
        except Exception:
            log.exception("%s failed on a frame", type(self).__name__)
            with translation.override(self.frame_language()):
                await self.frame_error("server_error", _("The server could not handle that."))
