"""Answer generation, independent of any socket.

A generation is an asyncio task in the ASGI process where the user pressed Send, kept in a
per-process registry by answer id. It streams from the inference client and relays what each
read brought as one frame, to the sockets on the conversation (the first token at once, then a
read every batch_seconds()); the process saves the text of all its answers every
FLUSH_SECONDS, and each answer is saved with its metrics at the end. Closing the browser does
not touch it; Stop cancels it, which closes the upstream request.

Each process also listens on one control channel (stored with the answer as owner_channel),
so a socket served by another worker can stop the generation or ask for a catch-up.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import time
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.utils.translation import gettext_noop

from apps.chat import actions, dbthread, limits
from apps.chat.actions import Ask, Exchange
from apps.chat.models import Message
from apps.chat.rendering import render_markdown

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
HEARTBEAT_SECONDS = 5.0
RENDER_SECONDS = 0.75
# Frames after the first are batched: the upstream is read every BATCH_SECONDS per answer at
# most (client.stream's `pace`), and less often when this process relays many answers at once,
# and each read becomes one frame. The per-frame cost (JSON, websocket write, a wake-up of the
# task) then stays bounded while a reader sees no difference.
BATCH_SECONDS = 0.02
BATCH_PER_STREAM = 0.0015
MAX_BATCH_SECONDS = 0.25
MAX_TOKENS = 1024
# Chunks put into the prompt: four ~250-token chunks leave room for the answer even in the
# 2,048-token context of the small dev model.
KNOWLEDGE_HITS = 4

STOPPED = gettext_noop("Stopped by the user.")
FAILED = gettext_noop("The answer could not be generated.")
SEARCH_FAILED = gettext_noop(
    "The knowledge base could not be searched. Try again, or turn the knowledge base off to "
    "ask the model alone."
)
SHUTDOWN = gettext_noop("The server stopped while writing this answer; the text so far is kept.")

_running: dict[int, Generation] = {}


class SearchFailed(RuntimeError):
    """Retrieval raised: the answer fails with a message that says what to do."""


# Open sockets of this process by conversation (consumers attach in connect()).
_sockets: dict[int, set[Any]] = {}
MEMBERS_SECONDS = 1.0


def batch_seconds() -> float:
    """How long text gathers before the next frame (and the next read of the upstream)."""
    return min(MAX_BATCH_SECONDS, max(BATCH_SECONDS, BATCH_PER_STREAM * len(_running)))


def group_name(conversation_id: int) -> str:
    return f"chat.c{conversation_id}"


def dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def _knowledge() -> tuple[Any, Any] | None:
    """retrieval.search and the prompting module, once the knowledge app provides them."""
    try:
        retrieval = importlib.import_module("apps.knowledge.retrieval")
        prompting = importlib.import_module("apps.knowledge.prompting")
    except ImportError:
        return None
    return retrieval.search, prompting


@dataclass
class Generation:
    """One answer being written: its text so far and the frames sent about it.

    The model request starts from the question and the earlier turns (`ask`); the rows it
    fills are stored meanwhile, and no frame goes out before they are (`exchange`). Frames
    are sent by whichever task has news, with no hand-over between tasks on the way: the
    generation's own task after each read, and the socket's task right after the rows are
    stored (relay()). A lock keeps their frames in order."""

    ask: Ask
    user: Any
    slot: str
    exchange: Exchange | None = None
    stored: asyncio.Event = field(default_factory=asyncio.Event)
    text: str = ""
    seq: int = 0
    rendered_seq: int = 0
    pending: list[str] = field(default_factory=list)
    announced: bool = False
    meta_sent: bool = False
    last_render: float = field(default_factory=time.monotonic)
    relaying: asyncio.Lock = field(default_factory=asyncio.Lock)
    closing: bool = False
    stopped: bool = False
    task: asyncio.Task[None] | None = None
    layer: Any = None
    remote: set[str] = field(default_factory=set)
    joined: set[str] = field(default_factory=set)
    members_checked: float = -1e9
    start: dict[str, Any] = field(default_factory=dict)
    start_saved: bool = False
    saved_seq: int = -1
    saved_at: float = field(default_factory=time.monotonic)

    @property
    def message_id(self) -> int:
        return self.exchange.answer_id if self.exchange is not None else 0

    @property
    def group(self) -> str:
        return group_name(self.ask.conversation_id)

    def catchup_frame(self) -> str:
        """Everything sent so far, consistent with `seq` (pending tokens follow as frame seq+1)."""
        return dumps(
            {
                "type": "catchup",
                "message_id": self.message_id,
                "seq": self.seq,
                "text": self.text,
                "html": render_markdown(self.text),
                "chars": len(self.text),
            }
        )

    def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.stopped = True
            self.task.cancel()

    # --- the task -------------------------------------------------------------------------

    async def run(self) -> None:
        keeper = asyncio.create_task(self._keep())
        fields: dict[str, Any]
        try:
            fields = await self._generate()
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()  # finish saving; the stream itself is closed already
            error = STOPPED if self.stopped else SHUTDOWN
            fields = {"status": Message.Status.INTERRUPTED, "error": error}
        except SearchFailed:
            fields = {"status": Message.Status.FAILED, "error": SEARCH_FAILED}
        except Exception as exc:
            log.exception("chat generation %s failed", self.message_id)
            fields = {"status": Message.Status.FAILED, "error": f"{FAILED} {type(exc).__name__}"}
        self.closing = True
        keeper.cancel()
        await self.stored.wait()
        try:
            await self.relay()  # what the last read brought, or all of it if stored late
        except Exception:
            log.exception("chat relay of %s failed", self.message_id)
        if self.exchange is None:
            # The rows were never stored (abandon()): nothing to save or announce.
            await self._release_slot()
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
            _running.pop(self.message_id, None)
            # The stored row travels with the event: sockets render it without a read.
            row = {k: v for k, v in stored.items() if k not in ("finished",)}
            await self._emit(
                {"type": "chat.finished", "message_id": self.message_id, "row": row or None}
            )
            await self._release_slot()

    async def _release_slot(self) -> None:
        try:
            await limits.release_stream(self.user.pk, self.slot)
        except Exception:
            log.warning("could not release a chat stream slot", exc_info=True)

    async def _prompt(self) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
        question, history = self.ask.question, self.ask.history
        knowledge = _knowledge() if self.ask.knowledge else None
        if knowledge is None:
            return [*history, {"role": "user", "content": question}], []
        search, prompting = knowledge
        try:
            hits = await dbthread.run(search, self.user, question, KNOWLEDGE_HITS)
        except Exception as exc:
            log.exception("knowledge search failed for chat answer %s", self.message_id)
            raise SearchFailed(type(exc).__name__) from exc
        messages = prompting.grounded_messages(question, hits, history=history)
        return messages, list(prompting.citations(hits)) if hits else []

    async def _generate(self) -> dict[str, Any]:
        from apps.inference import client

        messages, citations = await self._prompt()
        end: dict[str, Any] | None = None
        events = client.stream(
            messages,
            tier=self.ask.tier,
            user=self.user,
            purpose="chat",
            max_tokens=MAX_TOKENS,
            pace=batch_seconds,
        )
        # aclosing: a cancel that lands outside the stream's own await still closes upstream.
        async with aclosing(events):
            async for event in events:
                if event["type"] == "token":
                    # The hot path: one read, one frame (the stream then waits a batch).
                    self.pending.append(event["text"])
                    await self.relay()
                elif event["type"] == "start":
                    start: dict[str, Any] = {
                        "backend": event["backend"],
                        "model": event["model"],
                        "tier": event["tier"],
                        "fell_back": event["fell_back"],
                    }
                    start["requested_tier"] = self.ask.tier
                    # Nothing here may delay the first token: the row learns the model with
                    # the next save, the frame goes out with the first delta.
                    self.start = {**start, "citations": citations}
                else:
                    end = dict(event)
        if end is None:
            return {"status": Message.Status.FAILED, "error": FAILED}
        status = {
            "complete": Message.Status.COMPLETE,
            "interrupted": Message.Status.INTERRUPTED,
            "cancelled": Message.Status.INTERRUPTED,
        }.get(end["outcome"], Message.Status.FAILED)
        fields = {"status": status, "error": end.get("error") or "", "citations": citations}
        for name in ("backend", "model", "tier", "prompt_tokens", "completion_tokens"):
            if end.get(name) not in (None, ""):
                fields[name] = end[name]
        fields["ttft_s"] = end.get("ttft_s")
        fields["tokens_per_s"] = end.get("tokens_per_s")
        if status == Message.Status.COMPLETE and end.get("finish_reason") == "length":
            fields["error"] = gettext_noop("The answer reached the length limit.")
        return fields

    async def relay(self) -> None:
        """Send what is new: the new rows once they are stored, then which model answers,
        then the text that arrived since the last frame, and now and then the rendered HTML.
        Called after each read and once the rows are stored; does nothing before that."""
        if self.exchange is None:
            return  # not stored yet, or abandoned: its rows do not exist
        async with self.relaying:
            if not self.announced:
                self.announced = True
                await self._announce()
            if self.start and not self.meta_sent:
                self.meta_sent = True
                meta = {"type": "meta", "message_id": self.message_id}
                meta.update({k: v for k, v in self.start.items() if k != "citations"})
                await self._emit({"type": "chat.relay", "frame": dumps(meta)})
            if not self.pending:
                return
            chunk = "".join(self.pending)
            self.pending.clear()
            self.text += chunk
            self.seq += 1
            frame = {"type": "delta", "message_id": self.message_id, "seq": self.seq, "text": chunk}
            await self._emit({"type": "chat.relay", "frame": dumps(frame)})
            now = time.monotonic()
            # Re-rendering grows with the text; with many answers at once, render less often.
            every = RENDER_SECONDS * max(1.0, len(_running) / 40)
            if now - self.last_render >= every and not self.closing:
                self.last_render = now
                await self._send_render()

    async def _announce(self) -> None:
        # The new rows travel with the event, so sockets show them without a database read.
        assert self.exchange is not None
        await self._emit(
            {
                "type": "chat.added",
                "messages": [
                    {
                        "id": self.exchange.question_id,
                        "role": "user",
                        "content": self.ask.question,
                    },
                    {"id": self.message_id, "role": "assistant", "content": ""},
                ],
            },
        )

    async def _send_render(self) -> None:
        if self.rendered_seq == self.seq:
            return
        self.rendered_seq = self.seq
        frame = {
            "type": "render",
            "message_id": self.message_id,
            "seq": self.seq,
            "html": render_markdown(self.text),
            "chars": len(self.text),
        }
        await self._emit({"type": "chat.relay", "frame": dumps(frame)})

    async def _emit(self, event: dict[str, Any]) -> None:
        """Deliver an event to every socket on this conversation, in order.

        Sockets in this process get it directly (ChatConsumer.deliver); sockets served by other
        workers (members of the conversation's group found in Redis) through the channel
        layer. The common case, the asker's own socket in this process, thus costs no Redis
        round trip and no serialization per frame."""
        for socket in tuple(_sockets.get(self.ask.conversation_id, ())):
            await socket.deliver(event)
        now = time.monotonic()
        if now - self.members_checked >= MEMBERS_SECONDS:
            self.members_checked = now
            try:
                fresh = await remote_members(self.layer, self.group)
                # A socket that asked for a catch-up while Redis was being read may be missing
                # from that reading: keep it, or it would lose frames until the next one.
                self.remote = fresh | self.joined
                self.joined.clear()
            except Exception:
                log.warning("could not read the members of %s", self.group, exc_info=True)
        for channel in tuple(self.remote):
            try:
                await self.layer.send(channel, event)
            except Exception:
                # A remote socket that cannot be reached catches up when it reconnects; the
                # answer and the sockets here must not suffer for it.
                log.warning("chat frame to %s not delivered", channel, exc_info=True)

    async def _keep(self) -> None:
        """Keep the user's stream slot alive while the answer is written."""
        while True:
            await asyncio.sleep(limits.SLOT_REFRESH)
            try:
                await limits.refresh_stream(self.user.pk, self.slot)
            except Exception:
                log.warning("stream slot of %s not refreshed", self.message_id, exc_info=True)


# --- saving the text so far: one batch per process -------------------------------------------

_savers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}


def _ensure_saver() -> None:
    loop = asyncio.get_running_loop()
    for old in [old for old in _savers if old.is_closed()]:
        del _savers[old]
    if loop not in _savers:
        _savers[loop] = loop.create_task(_save_forever(loop), name="chat-saver")


async def _save_forever(loop: asyncio.AbstractEventLoop) -> None:
    """Every FLUSH_SECONDS, save the text so far of every answer this process writes (and a
    heartbeat for those that did not grow), all in one database call: a few statements a
    second per process, where one flush per answer meant hundreds a second, each a thread
    hop and a commit competing with new questions on their way to the first token."""
    while True:
        await asyncio.sleep(FLUSH_SECONDS)
        mine = [g for g in _running.values() if g.task is not None and g.task.get_loop() is loop]
        if not mine:
            del _savers[loop]  # no await since the check: a new answer starts a new saver
            return
        now = time.monotonic()
        due = [g for g in mine if g.seq != g.saved_seq or now - g.saved_at >= HEARTBEAT_SECONDS]
        if not due:
            continue
        rows = [(g.message_id, g.text, g.seq) for g in due]
        starts = {g.message_id: g.start for g in due if g.start and not g.start_saved}
        try:
            await dbthread.run_save(actions.flush_streams, rows, starts)
        except Exception:
            log.warning("saving %d streaming answers failed; retrying", len(rows), exc_info=True)
            continue
        for gen, (_id, _text, seq) in zip(due, rows, strict=True):
            gen.saved_seq, gen.saved_at = seq, now
            gen.start_saved = gen.start_saved or gen.message_id in starts


# --- registry and control channel ------------------------------------------------------------

_control: dict[asyncio.AbstractEventLoop, tuple[str, asyncio.Task[None]]] = {}


async def control_channel() -> str:
    """This process's control channel on the current loop, listening from first use."""
    loop = asyncio.get_running_loop()
    for old in [old for old in _control if old.is_closed()]:
        del _control[old]
    if loop in _control:
        return _control[loop][0]
    layer = get_channel_layer()
    assert layer is not None
    # The default prefix matters: channels_redis reads all of a process's own channels with one
    # shared pop on that prefix; a channel under another prefix would compete for its lock.
    name = await layer.new_channel()
    _control[loop] = (name, asyncio.create_task(_listen(layer, name)))
    return name


async def _listen(layer: Any, channel: str) -> None:
    while True:
        try:
            event = await layer.receive(channel)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("chat control channel failed; listening again", exc_info=True)
            await asyncio.sleep(1)
            continue
        if event.get("type") != "chat.control":
            continue
        gen = _running.get(int(event.get("message_id", 0)))
        if gen is None:
            continue
        if event.get("action") == "stop":
            gen.stop()
        elif event.get("action") == "catchup" and event.get("reply_to"):
            # From now on that socket gets every frame too; it drops what the catch-up holds.
            gen.remote.add(event["reply_to"])
            gen.joined.add(event["reply_to"])
            await layer.send(
                event["reply_to"], {"type": "chat.relay", "frame": gen.catchup_frame()}
            )


def prepare(ask: Ask, user: Any, slot: str) -> Generation:
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
    _running[exchange.answer_id] = gen
    gen.stored.set()
    _ensure_saver()
    await gen.relay()


def abandon(gen: Generation) -> None:
    """The rows could not be stored: stop the request, send and save nothing."""
    gen.stored.set()
    gen.stop()


async def start(exchange: Exchange, user: Any, slot: str) -> Generation:
    """Run a generation for an exchange already stored (actions.begin_regenerate)."""
    gen = prepare(exchange, user, slot)
    await stored(gen, exchange)
    return gen


def attach(conversation_id: int, socket: Any) -> None:
    _sockets.setdefault(conversation_id, set()).add(socket)


def detach(conversation_id: int, socket: Any) -> None:
    sockets = _sockets.get(conversation_id)
    if sockets is not None:
        sockets.discard(socket)
        if not sockets:
            del _sockets[conversation_id]


async def remote_members(layer: Any, group: str) -> set[str]:
    """Channels in `group` that belong to other processes (Redis layer only)."""
    if not isinstance(layer, RedisChannelLayer):
        return set()  # the in-memory layer serves one process: every socket is local
    # channels_redis keeps a group as a sorted set of channel names; this process's own
    # channels share its client prefix.
    key = layer._group_key(group)
    members = await layer.connection(layer.consistent_hash(group)).zrange(key, 0, -1)
    own = f"specific.{layer.client_prefix}!"
    names = {m.decode() if isinstance(m, bytes) else str(m) for m in members}
    return {name for name in names if not name.startswith(own)}


def local(message_id: int) -> Generation | None:
    return _running.get(message_id)


def running_count() -> int:
    return len(_running)


async def stop(message_id: int, owner_channel: str) -> bool:
    """Stop a generation here or, through its control channel, in another process."""
    gen = _running.get(message_id)
    if gen is not None:
        gen.stop()
        return True
    if not owner_channel:
        return False
    layer = get_channel_layer()
    assert layer is not None
    await layer.send(
        owner_channel, {"type": "chat.control", "action": "stop", "message_id": message_id}
    )
    return True


async def request_catchup(message_id: int, owner_channel: str, reply_to: str) -> None:
    layer = get_channel_layer()
    assert layer is not None
    await layer.send(
        owner_channel,
        {
            "type": "chat.control",
            "action": "catchup",
            "message_id": message_id,
            "reply_to": reply_to,
        },
    )
