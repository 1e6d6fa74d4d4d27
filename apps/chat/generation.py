"""Chat answer generation, independent of any socket.

A generation is a relay.LiveAnswer (apps/inference/relay.py: the frames, the periodic save,
Stop and catch-ups from other workers) that answers one question of a conversation: it
grounds the question (knowledge.answering), streams from the inference client in the user's
stream slot, and saves the answer with its metrics at the end. The model request starts
before the question's rows are stored (prepare(), then stored()), so storing them is not on
the way to the first token.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from channels.layers import get_channel_layer
from django.utils.translation import gettext_noop

from apps.chat import actions, dbthread
from apps.chat.actions import Ask, Exchange
from apps.chat.events import AddedEvent, FinishedEvent
from apps.chat.models import Message
from apps.inference import client, relay
from apps.inference.limits import Slot
from apps.inference.relay import Endings, LiveAnswer, SearchFailed
from apps.knowledge.search import answering, english

log = logging.getLogger(__name__)

MAX_TOKENS = 1024

STOPPED = gettext_noop("Stopped by the user.")
FAILED = gettext_noop("The answer could not be generated.")
SEARCH_FAILED = gettext_noop(
    "The knowledge base could not be searched. Try again, or turn the knowledge base off to "
    "ask the model alone."
)
TOO_LONG = gettext_noop(
    "The question is longer than the model can read. Shorten it, or paste only the part "
    "that matters."
)
SHUTDOWN = gettext_noop("The server stopped while writing this answer; the text so far is kept.")


def group_name(conversation_id: int) -> str:
    return f"chat.c{conversation_id}"


@dataclass(eq=False, kw_only=True)
class Generation(LiveAnswer):
    """One chat answer being written.

    The model request starts from the question and the earlier turns (`ask`); the rows it
    fills are stored meanwhile, and no frame goes out before they are (`exchange`)."""

    kind: ClassVar[str] = "chat"
    endings: ClassVar[Endings] = Endings(STOPPED, SHUTDOWN, SEARCH_FAILED, FAILED)

    ask: Ask
    user: Any
    slot: Slot  # the user's stream slot, held (kept alive) until the answer is saved
    exchange: Exchange | None = None
    stored: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def answer_id(self) -> int:
        return self.exchange.answer_id if self.exchange is not None else 0

    @property
    def message_id(self) -> int:
        return self.answer_id

    @property
    def group(self) -> str:
        return group_name(self.ask.conversation_id)

    def ready(self) -> bool:
        return self.exchange is not None  # not stored yet, or abandoned: no rows to show

    @classmethod
    async def save_batch(
        cls, rows: list[tuple[int, str, int]], starts: dict[int, dict[str, Any]]
    ) -> None:
        await dbthread.run_save(actions.flush_streams, rows, starts)

    # --- the task -------------------------------------------------------------------------

    async def run(self) -> None:
        self.slot.keep()
        fields = await self.generated()
        self.closing = True
        await self.stored.wait()
        try:
            await self.relay()  # what the last read brought, or all of it if stored late
        except Exception:
            log.exception("chat relay of %s failed", self.message_id)
        if self.exchange is None:
            # The rows were never stored (abandon()): nothing to save or announce.
            await self.slot.release()
            return
        if fields["status"] == Message.Status.FAILED and self.text:
            fields["status"] = Message.Status.INTERRUPTED  # keep the partial answer visible
        stored: dict[str, Any] = {}
        try:
            # A flush may be under way in a DB thread; it only writes while the row is
            # streaming, and this save ends that, so the final text cannot be overwritten.
            stored = await dbthread.run_save(
                actions.finish_stream,
                self.message_id,
                self.ask.conversation_id,
                self.text,
                self.seq,
                {**self.start, **fields},
            )
        except Exception:
            log.exception("could not save chat answer %s", self.message_id)
        finally:
            self.unregister()
            # The stored row travels with the event: sockets render it without a read.
            row = {k: v for k, v in stored.items() if k not in ("finished",)}
            finished: FinishedEvent = {
                "type": "chat.finished",
                "message_id": self.message_id,
                "row": row or None,
            }
            await self.emit(dict(finished))
            await self.slot.release()

    async def _ground(self) -> answering.Grounding:
        question, history = self.ask.question, self.ask.history
        if not self.ask.knowledge:
            # Nothing to look up: built here, with no thread hop on the way to the first token.
            return answering.ground(
                self.user, question, history, knowledge=False, max_tokens=MAX_TOKENS
            )
        try:
            # A Russian question's translation is asked for here, on the loop, so that no
            # search thread waits for the model; the search finds it cached.
            await english.question_async(question)
            return await dbthread.run(
                answering.ground, self.user, question, history, max_tokens=MAX_TOKENS
            )
        except Exception as exc:
            log.exception("knowledge search failed for chat answer %s", self.message_id)
            raise SearchFailed(type(exc).__name__) from exc

    async def _generate(self) -> dict[str, Any]:
        grounding = await self._ground()
        citations = grounding.citations
        end: dict[str, Any] | None = None
        events = client.stream(
            grounding.prompt,
            tier=self.ask.tier,
            slot=self.slot,
            purpose="chat",
            max_tokens=MAX_TOKENS,
            pace=relay.batch_seconds,
        )
        # aclosing: a cancel that lands outside the stream's own await still closes upstream.
        async with aclosing(events):
            async for event in events:
                if event["type"] == "token":
                    # The hot path: one read, one frame (the stream then waits a batch).
                    await self.push(event["text"])
                elif event["type"] == "start":
                    start: dict[str, Any] = {
                        "backend": event["backend"],
                        "model": event["model"],
                        "tier": event["tier"],
                        "fell_back": event["fell_back"],
                        "development": event["development"],
                    }
                    start["requested_tier"] = self.ask.tier
                    # Nothing here may delay the first token: the row learns the model with
                    # the next save, the frame goes out with the first delta.
                    self.start = {**start, "citations": citations}
                else:
                    end = dict(event)
        if end is None:
            return {"status": Message.Status.FAILED, "error": FAILED}
        fields = self.ended(end, gettext_noop("The answer reached the length limit."))
        fields["citations"] = citations
        if end.get("error_code") == "context_length_exceeded":
            fields["error"] = TOO_LONG
        return fields

    async def announce(self) -> None:
        # The new rows travel with the event, so sockets show them without a database read.
        assert self.exchange is not None
        added: AddedEvent = {
            "type": "chat.added",
            "messages": [
                {"id": self.exchange.question_id, "role": "user", "content": self.ask.question},
                {"id": self.message_id, "role": "assistant", "content": ""},
            ],
        }
        await self.emit(dict(added))


def prepare(ask: Ask, user: Any, slot: Slot) -> Generation:
    """Start answering `ask` now, before its rows are stored: the model request is on its way
    while actions.begin_exchange writes them. Follow with stored() or abandon()."""
    gen = Generation(ask=ask, user=user, slot=slot, layer=get_channel_layer())
    gen.task = asyncio.create_task(gen.run(), name="chat-answer")
    return gen


async def stored(gen: Generation, exchange: Exchange) -> None:
    """The rows exist (with this process's control_channel() as the answer's owner): frames
    and saves may begin. The caller's task sends the first frames now (the new rows, and
    the first token if it came while they were stored), rather than waking another task."""
    gen.exchange = exchange
    gen.register()
    gen.stored.set()
    await gen.relay()


def abandon(gen: Generation) -> None:
    """The rows could not be stored: stop the request, send and save nothing."""
    gen.stored.set()
    gen.stop()


async def start(exchange: Exchange, user: Any, slot: Slot) -> Generation:
    """Run a generation for an exchange already stored (actions.begin_regenerate)."""
    gen = prepare(exchange, user, slot)
    await stored(gen, exchange)
    return gen
