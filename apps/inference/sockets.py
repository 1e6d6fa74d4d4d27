"""The websocket of a page that shows answers being written (a conversation, a scenario run).

The socket only relays: an answer belongs to the process that writes it (relay.LiveAnswer),
not to a socket, so closing the page loses nothing. On (re)connect the socket joins the
answers' group, then sends a catch-up of every answer still being written, then the live
frames; frame numbers let the browser drop overlap. Subclasses check who may connect, say
which answers are being written (streaming()) and how a finished one looks (finished()), and
add their own browser events; stop, resync and pong are here. A malformed frame gets an
error frame and the socket stays open (common/ws.py).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.inference import relay
from apps.inference.rendering import render_markdown
from common.ws import SafeJsonConsumer

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 20.0
# A writer saves at least every relay.HEARTBEAT_SECONDS; silence this long means its process
# is gone.
STALE_AFTER = timedelta(seconds=30)
# Close codes a browser can read (a refused handshake is only "failed" to it), so a page can
# say "sign in again" or "gone" instead of retrying forever.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


def language_of(scope: dict[str, Any]) -> str:
    """The page's language: the switcher's cookie, else the default (portal/locale.py)."""
    chosen = scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME, "")
    return chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


class AnswerSocket(SafeJsonConsumer):
    """Relays the frames of one group's answers to one browser page.

    Rows returned by streaming() are dicts with the keys id, owner_channel, heartbeat_at,
    text and stream_seq (the answer's saved state)."""

    kind: ClassVar[str]  # the LiveAnswer kind whose answers this socket shows
    group: str = ""
    language: str = ""
    heartbeat: asyncio.Task[None] | None = None
    pump: asyncio.Task[None] | None = None

    # --- what a subclass says -------------------------------------------------------------

    async def streaming(self) -> list[dict[str, Any]]:
        """The answers of this group being written now, as saved."""
        raise NotImplementedError

    async def finished(self, answer_id: int, row: dict[str, Any] | None = None) -> None:
        """Send the final block of an answer that is no longer being written."""
        raise NotImplementedError

    async def abandon_stale(self, answer_id: int, stale_before: Any) -> None:
        """Mark an answer whose writing process is gone as interrupted."""
        raise NotImplementedError

    def client_events(self) -> dict[str, Any]:
        """Browser event type -> handler; subclasses add theirs to these."""
        return {"stop": self.on_stop, "resync": self.on_resync, "pong": self.on_pong}

    def relay_handlers(self) -> dict[str, Any]:
        """Channel-layer events handled without Channels' dispatch (see dispatch())."""
        return {relay.RELAY: self.answer_relay, "websocket.receive": self.websocket_receive}

    # --- joining -----------------------------------------------------------------------------

    async def refuse(self, code: int) -> None:
        # Accept, then close with a code the browser can read.
        await self.accept()
        await self.close(code=code)

    async def join(self, group: str) -> None:
        """Accept the socket onto `group`: catch-ups first, then live frames."""
        self.language = language_of(self.scope)
        self.group = group
        # Join before reading what was sent so far, so no frame falls between the two:
        # frames from here on wait in the outbox until the catch-up below has gone out.
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sending = asyncio.Lock()
        self.live = False
        await self.channel_layer.group_add(self.group, self.channel_name)
        relay.attach(self.group, self)
        await self.accept()
        self.heartbeat = asyncio.create_task(self._heartbeat())
        for row in await self.streaming():
            await self.catch_up(row)
        self.pump = asyncio.create_task(self._pump())
        self.live = True

    async def deliver(self, event: dict[str, Any]) -> None:
        """An event from an answer written in this process (relay.LiveAnswer.emit).

        Sent at once by the caller's task when nothing is waiting before it, the common case:
        no hand-over to this socket's task on the way to the browser. Otherwise it waits in
        the outbox, in order (during the catch-up on connect, or while a frame is written).
        A browser that cannot keep up with its own frames slows its answer's relay, not
        the process, until the socket's ping timeout closes it."""
        if self.live and not self.sending.locked() and self.outbox.empty():
            await self._relay(event)
        else:
            self.outbox.put_nowait(event)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Answer events and the user's own frames skip Channels' dispatch, which closes stale
        # database connections before every handler through a hop to the one shared sync
        # thread: a cost per relayed frame, and a wait in that thread's queue on a question's
        # way to its first token. These handlers do not need it: their database work runs in
        # threads with their own connections.
        handler = self.relay_handlers().get(message.get("type", ""))
        if handler is not None:
            await handler(message)
        else:
            await super().dispatch(message)

    async def _pump(self) -> None:
        while True:
            await self._relay(await self.outbox.get())

    async def _relay(self, event: dict[str, Any]) -> None:
        async with self.sending:
            try:
                await self.dispatch(event)
            except asyncio.CancelledError:
                raise
            except OSError:
                # Closed by the browser; disconnect() detaches it from the answer shortly.
                log.debug("answer socket closed before %s", event.get("type"))
            except Exception:
                log.exception("answer socket could not relay %s", event.get("type"))

    async def disconnect(self, code: int) -> None:
        for task in (self.heartbeat, self.pump):
            if task is not None:
                task.cancel()
        if self.group:
            relay.detach(self.group, self)
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _heartbeat(self) -> None:
        # Proxies close websockets that are quiet for a minute or so; a ping every 20 s keeps
        # an idle page open.
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await self.send_json({"type": "ping"})

    async def error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    # --- browser events ----------------------------------------------------------------------

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        handler = self.client_events().get(str(kind))
        if handler is None:
            with translation.override(self.language):
                await self.error("bad_event", _("Unknown event type."))
            return
        await handler(content)

    async def on_stop(self, event: dict[str, Any]) -> None:
        wanted = event.get("message_id")
        for row in await self.streaming():
            if wanted is None or row["id"] == wanted:
                await relay.stop(f"{self.kind}:{row['id']}", row["owner_channel"])

    async def on_resync(self, event: dict[str, Any]) -> None:
        for row in await self.streaming():
            if row["id"] == event.get("message_id"):
                await self.catch_up(row)
                return
        # Finished meanwhile: the final block is the catch-up.
        answer_id = event.get("message_id")
        if isinstance(answer_id, int):
            await self.finished(answer_id)

    async def on_pong(self, event: dict[str, Any]) -> None:
        return None

    async def catch_up(self, row: dict[str, Any]) -> None:
        live = relay.local(f"{self.kind}:{row['id']}")
        if live is not None:
            # Same process: the exact text up to the last frame sent, read with no await
            # between it and the group join above.
            await self.send(text_data=live.catchup_frame())
            return
        stale_before = timezone.now() - STALE_AFTER
        if row["heartbeat_at"] and row["heartbeat_at"] < stale_before:
            await self.abandon_stale(row["id"], stale_before)
            await self.finished(row["id"])
            return
        # Another worker writes it: show the saved text now (consistent with its seq), and
        # ask the owner for the exact text, which arrives as a newer catch-up.
        await self.send_json(
            {
                "type": "catchup",
                "message_id": row["id"],
                "seq": row["stream_seq"],
                "text": row["text"],
                "html": render_markdown(row["text"]),
                "chars": len(row["text"]),
            }
        )
        if row["owner_channel"]:
            key = f"{self.kind}:{row['id']}"
            await relay.request_catchup(key, row["owner_channel"], self.channel_name)

    # --- channel-layer events ----------------------------------------------------------------

    async def answer_relay(self, event: dict[str, Any]) -> None:
        # Serialized once by the writer; every socket sends the same text.
        await self.send(text_data=event["frame"])
