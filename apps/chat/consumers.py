"""The chat websocket: one socket per open conversation page.

The socket only relays: a Send starts a generation that belongs to the process, not to the
socket, so closing the page loses nothing. On (re)connect the socket sends a catch-up of every
answer still being written, then the live frames; frame numbers let the browser drop overlap.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.chat import actions, dbthread, generation, limits
from apps.chat.events import (
    ClientEvent,
    RegenerateEvent,
    ResyncEvent,
    SendEvent,
    StopEvent,
)
from apps.chat.models import Conversation, Message

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 20.0
STALE_AFTER = actions.STALE_AFTER
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


def _language(scope: dict[str, Any]) -> str:
    chosen = scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME, "")
    return chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def _in_language(language: str, fn: Any, *args: Any) -> Any:
    with translation.override(language):
        return fn(*args)


def _owns(conversation_id: int, user_id: int) -> bool:
    return Conversation.objects.filter(pk=conversation_id, user_id=user_id).exists()


def _streaming(conversation_id: int) -> list[dict[str, Any]]:
    rows = Message.objects.filter(conversation_id=conversation_id, status=Message.Status.STREAMING)
    return [
        dict(row)
        for row in rows.values("id", "owner_channel", "heartbeat_at", "content", "stream_seq")
    ]


def _render_blocks(message_ids: list[int], conversation_id: int, user: Any) -> list[dict[str, Any]]:
    """The message blocks as the page shows them, in the socket's language."""
    rows = Message.objects.filter(pk__in=message_ids, conversation_id=conversation_id)
    feedback = {f.message_id: f for f in user.chat_feedback.filter(message_id__in=message_ids)}
    blocks = []
    for m in rows:
        html = render_to_string("chat/_message.html", {"m": m, "fb": feedback.get(m.pk)})
        blocks.append(
            {"id": m.pk, "role": m.role, "status": m.status, "seq": m.stream_seq, "html": html}
        )
    return blocks


class ChatConsumer(AsyncJsonWebsocketConsumer):
    conversation_id: int
    group: str
    language: str
    heartbeat: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        # Accept, then close with a code: a browser sees the code (a rejected handshake is
        # only "failed"), so the page can say "sign in again" instead of retrying forever.
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        if not await dbthread.run(_owns, self.conversation_id, user.pk):
            await self.accept()
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.language = _language(self.scope)
        self.group = generation.group_name(self.conversation_id)
        # Join before reading what was sent so far, so no frame falls between the two:
        # frames from here on wait in the outbox until the catch-up below has gone out.
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sending = asyncio.Lock()
        self.live = False
        await self.channel_layer.group_add(self.group, self.channel_name)
        generation.attach(self.conversation_id, self)
        await self.accept()
        self.heartbeat = asyncio.create_task(self._heartbeat())
        for row in await dbthread.run(_streaming, self.conversation_id):
            await self._catch_up(row)
        self.pump = asyncio.create_task(self._pump())
        self.live = True

    async def deliver(self, event: dict[str, Any]) -> None:
        """An event from a generation in this process (see generation.Generation._emit).

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
        # Chat events and the user's own frames skip Channels' dispatch, which closes stale
        # database connections before every handler through a hop to the one shared sync
        # thread: a cost per relayed frame, and a wait in that thread's queue on a question's
        # way to its first token. These handlers do not need it: their database work runs in
        # dbthread, with its own connections.
        handler = self._relay_handlers().get(message.get("type", ""))
        if handler is not None:
            await handler(message)
        else:
            await super().dispatch(message)

    def _relay_handlers(self) -> dict[str, Any]:
        return {
            "chat.relay": self.chat_relay,
            "chat.added": self.chat_added,
            "chat.finished": self.chat_finished,
            "websocket.receive": self.websocket_receive,
        }

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
                log.debug("chat socket closed before %s", event.get("type"))
            except Exception:
                log.exception("chat socket could not relay %s", event.get("type"))

    async def disconnect(self, code: int) -> None:
        for task in (self.heartbeat, getattr(self, "pump", None)):
            if task is not None:
                task.cancel()
        if getattr(self, "group", None):
            generation.detach(self.conversation_id, self)
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _heartbeat(self) -> None:
        # Proxies close websockets that are quiet for a minute or so; a ping every 20 s keeps
        # an idle conversation open.
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await self.send_json({"type": "ping"})

    async def _error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    # --- browser events: one handler each -------------------------------------------------

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        handler: Any = {
            "send": self.on_send,
            "stop": self.on_stop,
            "regenerate": self.on_regenerate,
            "resync": self.on_resync,
            "pong": self.on_pong,
        }.get(str(kind))
        if handler is None:
            with translation.override(self.language):
                await self._error("bad_event", _("Unknown event type."))
            return
        await handler(cast(ClientEvent, content))

    async def on_send(self, event: SendEvent) -> None:  # type: ignore[override]
        text = event.get("text")
        if not isinstance(text, str):
            with translation.override(self.language):
                await self._error("bad_event", _("The message is empty."))
            return
        await self._begin(text, event)

    async def on_regenerate(self, event: RegenerateEvent) -> None:  # type: ignore[override]
        await self._begin(None, event)

    async def _admit(self) -> str | None:
        """A stream slot for this user's next answer, or None after saying which limit."""
        with translation.override(self.language):
            admission = await limits.admit(self.user.pk)
            if admission.refused == "rate":
                await self._error(
                    "rate_limited",
                    _(
                        "You have sent %(n)d messages in a minute, the most allowed. "
                        "Try again in %(s)d s."
                    )
                    % {"n": settings.CHAT_MESSAGES_PER_MINUTE, "s": admission.retry_after},
                )
            elif admission.slot is None:
                await self._error(
                    "too_many_streams",
                    _(
                        "%(n)d answers are already being written for you. Wait for one to "
                        "finish or stop it."
                    )
                    % {"n": settings.CHAT_MAX_CONCURRENT_STREAMS},
                )
        return admission.slot

    async def _begin(self, text: str | None, event: Any) -> None:
        tier = str(event.get("tier") or "auto")
        knowledge = bool(event.get("knowledge", True))
        history_read: asyncio.Future[list[dict[str, str]]] | None = None
        if text is not None:
            try:
                with translation.override(self.language):
                    question = actions.check_question(text)
                    actions.check_tier(tier)
            except actions.ChatError as exc:
                await self._error("invalid", str(exc))
                return
            # The earlier turns are read while the limits are checked: both are on the way
            # to the first token.
            history_read = dbthread.submit(actions.history, self.conversation_id, self.user.pk)
        slot = await self._admit()
        if slot is None:
            if history_read is not None:
                history_read.cancel()
            return
        gen: generation.Generation | None = None
        try:
            owner = await generation.control_channel()
            if history_read is None:
                exchange = await dbthread.run(
                    _in_language,
                    self.language,
                    actions.begin_regenerate,
                    *(self.conversation_id, self.user, tier, knowledge, owner),
                )
                await generation.start(exchange, self.user, slot)
                return
            history = await history_read
            # The model request goes out now; the rows are written beside it (a transaction
            # of several statements that would otherwise come first, on the way to the
            # first token).
            ask = actions.Ask(self.conversation_id, question, history, tier, knowledge)
            gen = generation.prepare(ask, self.user, slot)
            exchange = await dbthread.run(
                _in_language,
                self.language,
                actions.begin_exchange,
                *(self.conversation_id, self.user, question, tier, knowledge, owner, history),
            )
            await generation.stored(gen, exchange)
        except actions.ChatError as exc:
            await limits.release_stream(self.user.pk, slot)
            await self._error("invalid", str(exc))
        except Conversation.DoesNotExist:
            await limits.release_stream(self.user.pk, slot)
            await self.close(code=CLOSE_NOT_FOUND)
        except Exception:
            await limits.release_stream(self.user.pk, slot)
            raise
        finally:
            if gen is not None and gen.exchange is None:
                generation.abandon(gen)  # its rows were not stored: stop its request

    async def on_stop(self, event: StopEvent) -> None:  # type: ignore[override]
        wanted = event.get("message_id")
        for row in await dbthread.run(_streaming, self.conversation_id):
            if wanted is None or row["id"] == wanted:
                await generation.stop(row["id"], row["owner_channel"])

    async def on_resync(self, event: ResyncEvent) -> None:  # type: ignore[override]
        for row in await dbthread.run(_streaming, self.conversation_id):
            if row["id"] == event.get("message_id"):
                await self._catch_up(row)
                return
        # Finished meanwhile: the final block is the catch-up.
        await self.chat_finished({"message_id": event.get("message_id")})

    async def on_pong(self, event: ClientEvent) -> None:
        return None

    async def _catch_up(self, row: dict[str, Any]) -> None:
        gen = generation.local(row["id"])
        if gen is not None:
            # Same process: the exact text up to the last frame sent, read with no await
            # between it and the group join above.
            await self.send(text_data=gen.catchup_frame())
            return
        if row["heartbeat_at"] and row["heartbeat_at"] < timezone.now() - STALE_AFTER:
            await dbthread.run(
                actions.abandon_stale_stream, row["id"], timezone.now() - STALE_AFTER
            )
            await self.chat_finished({"message_id": row["id"]})
            return
        # Another worker writes it: show the saved text now (consistent with its seq), and
        # ask the owner for the exact text, which arrives as a newer catch-up.
        from apps.chat.rendering import render_markdown

        await self.send_json(
            {
                "type": "catchup",
                "message_id": row["id"],
                "seq": row["stream_seq"],
                "text": row["content"],
                "html": render_markdown(row["content"]),
                "chars": len(row["content"]),
            }
        )
        if row["owner_channel"]:
            await generation.request_catchup(row["id"], row["owner_channel"], self.channel_name)

    # --- channel-layer events ---------------------------------------------------------------

    async def chat_relay(self, event: dict[str, Any]) -> None:
        # Serialized once by the generator; every socket sends the same text.
        await self.send(text_data=event["frame"])

    async def chat_added(self, event: dict[str, Any]) -> None:
        with translation.override(self.language):
            for row in event["messages"]:
                streaming = row["role"] == Message.Role.ASSISTANT
                m = Message(
                    pk=row["id"],
                    conversation_id=self.conversation_id,
                    role=row["role"],
                    content=row["content"],
                    status=Message.Status.STREAMING if streaming else Message.Status.COMPLETE,
                )
                html = render_to_string("chat/_message.html", {"m": m, "fb": None})
                frame = {"type": "message", "message_id": m.pk, "role": m.role, "html": html}
                await self.send_json(frame)

    async def chat_finished(self, event: dict[str, Any]) -> None:
        message_id = event.get("message_id")
        if not isinstance(message_id, int):
            return
        row = event.get("row")
        if row:
            # A fresh answer as just stored (nobody can have rated it yet): no database read.
            m = Message(
                pk=message_id,
                conversation_id=self.conversation_id,
                role=Message.Role.ASSISTANT,
                **row,
            )
            with translation.override(self.language):
                html = render_to_string("chat/_message.html", {"m": m, "fb": None})
            done = {"type": "done", "message_id": message_id, "seq": m.stream_seq}
            await self.send_json({**done, "status": m.status, "html": html})
            return
        blocks = await dbthread.run(
            _in_language,
            self.language,
            _render_blocks,
            [message_id],
            self.conversation_id,
            self.user,
        )
        for block in blocks:
            await self.send_json(
                {
                    "type": "done",
                    "message_id": block["id"],
                    "seq": block["seq"],
                    "status": block["status"],
                    "html": block["html"],
                }
            )
