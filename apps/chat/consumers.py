"""The chat websocket: one socket per open conversation page.

A Send starts a generation that belongs to the process, not to the socket, so closing the
page loses nothing; the relaying, catch-ups, Stop and resync are the shared answer socket's
(apps/inference/sockets.py). This socket checks the conversation is the user's, starts
answers, and shows new and finished messages.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from apps.chat import actions, dbthread, generation
from apps.chat.events import (
    AddedEvent,
    DoneFrame,
    FinishedEvent,
    MessageFrame,
    RegenerateEvent,
    SendEvent,
)
from apps.chat.models import Conversation, Message
from apps.inference import limits, relay, sockets
from apps.inference.models import AUTO

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = sockets.CLOSE_UNAUTHENTICATED
CLOSE_NOT_FOUND = sockets.CLOSE_NOT_FOUND


def _in_language(language: str, fn: Any, *args: Any) -> Any:
    with translation.override(language):
        return fn(*args)


def _owns(conversation_id: int, user_id: int) -> bool:
    return Conversation.objects.filter(pk=conversation_id, user_id=user_id).exists()


def _streaming(conversation_id: int) -> list[dict[str, Any]]:
    rows = Message.objects.filter(conversation_id=conversation_id, status=Message.Status.STREAMING)
    fields = ("id", "owner_channel", "heartbeat_at", "content", "stream_seq")
    return [{**row, "text": row["content"]} for row in rows.values(*fields)]


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


class ChatConsumer(sockets.AnswerSocket):
    kind = generation.Generation.kind
    conversation_id: int

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        if not await dbthread.run(_owns, self.conversation_id, user.pk):
            await self.refuse(CLOSE_NOT_FOUND)
            return
        await self.join(generation.group_name(self.conversation_id))

    async def streaming(self) -> list[dict[str, Any]]:
        return await dbthread.run(_streaming, self.conversation_id)

    async def abandon_stale(self, answer_id: int, stale_before: Any) -> None:
        await dbthread.run(actions.abandon_stale_stream, answer_id, stale_before)

    async def finished(self, answer_id: int, row: dict[str, Any] | None = None) -> None:
        await self.chat_finished({"type": "chat.finished", "message_id": answer_id, "row": row})

    def client_events(self) -> dict[str, Any]:
        return {
            **super().client_events(),
            "send": self.on_send,
            "regenerate": self.on_regenerate,
        }

    def relay_handlers(self) -> dict[str, Any]:
        return {
            **super().relay_handlers(),
            "chat.added": self.chat_added,
            "chat.finished": self.chat_finished,
        }

    async def on_send(self, event: SendEvent) -> None:
        text = event.get("text")
        if not isinstance(text, str):
            with translation.override(self.language):
                await self.error("bad_event", _("The message is empty."))
            return
        await self._begin(text, event)

    async def on_regenerate(self, event: RegenerateEvent) -> None:
        await self._begin(None, event)

    async def _admit(self) -> limits.Slot | None:
        """A stream slot for this user's next answer, or None after saying which limit."""
        try:
            return await limits.take(self.user)
        except limits.Refused as refused:
            with translation.override(self.language):
                if refused.limit == "rate":
                    await self.error(
                        "rate_limited",
                        _(
                            "You have sent %(n)d messages in a minute, the most allowed. "
                            "Try again in %(s)d s."
                        )
                        % {"n": refused.allowed, "s": refused.retry_after},
                    )
                else:
                    await self.error(
                        "too_many_streams",
                        _(
                            "%(n)d answers are already being written for you. Wait for one "
                            "to finish or stop it."
                        )
                        % {"n": refused.allowed},
                    )
            return None

    async def _begin(self, text: str | None, event: SendEvent | RegenerateEvent) -> None:
        tier = str(event.get("tier") or AUTO)
        knowledge = bool(event.get("knowledge", True))
        history_read: asyncio.Future[list[dict[str, str]]] | None = None
        if text is not None:
            try:
                with translation.override(self.language):
                    question = actions.check_question(text)
                    actions.check_tier(tier)
            except actions.ChatError as exc:
                await self.error("invalid", str(exc))
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
            owner = await relay.control_channel()
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
            await slot.release()
            await self.error("invalid", str(exc))
        except Conversation.DoesNotExist:
            await slot.release()
            await self.close(code=CLOSE_NOT_FOUND)
        except Exception:
            await slot.release()
            raise
        finally:
            if gen is not None and gen.exchange is None:
                generation.abandon(gen)  # its rows were not stored: stop its request

    # --- channel-layer events ---------------------------------------------------------------

    async def chat_added(self, event: AddedEvent) -> None:
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
                frame: MessageFrame = {
                    "type": "message",
                    "message_id": m.pk,
                    "role": m.role,
                    "html": html,
                }
                await self.send_json(frame)

    async def chat_finished(self, event: FinishedEvent) -> None:
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
            done: DoneFrame = {
                "type": "done",
                "message_id": message_id,
                "seq": m.stream_seq,
                "status": m.status,
                "html": html,
            }
            await self.send_json(done)
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
            frame: DoneFrame = {
                "type": "done",
                "message_id": block["id"],
                "seq": block["seq"],
                "status": block["status"],
                "html": block["html"],
            }
            await self.send_json(frame)
