"""An answer being written, relayed to every socket that watches it, in any process.

Chat answers and scenario explanations stream the same way, so the machinery is here, below
both: a LiveAnswer is an asyncio task in the ASGI process that started it, kept in a
per-process registry by key ("chat:12", "scenario:7"). What each read of the model brought
goes out as one numbered frame to the sockets of its group (the first token at once, then a
read every batch_seconds()); every FLUSH_SECONDS the process saves the text of all its answers
(each kind of answer in one batch: LiveAnswer.save_batch); the owner saves the final row.
Closing the browser does not touch it; Stop cancels it, which closes the upstream request.

Frames (the websocket protocol, apps/chat/events.py): "catchup" (the whole text up to frame
`seq`), "delta" (the text of frame `seq`), "render" (sanitized HTML up to `seq`, a few times
a second at most) and "meta" (which model answers). The browser applies a delta only if it
is the next number and asks for a resync when one is missing (static/js/answer-stream.js).

Each process listens on one control channel (stored with the answer as its owner channel),
so a socket served by another worker can stop an answer or ask for an exact catch-up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer

from apps.inference import guard
from apps.inference.rendering import render_markdown

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
MEMBERS_SECONDS = 1.0
# What a "meta" frame tells about the model (the start event's fields).
META_FIELDS = ("backend", "model", "tier", "requested_tier", "fell_back", "development")

# The channel-layer event a frame travels in, already serialized once, to each socket.
RELAY = "answer.relay"
CONTROL = "answer.control"


class SearchFailed(RuntimeError):
    """Retrieval raised: the answer fails with a message that says what to do."""


@dataclass(frozen=True)
class Endings:
    """How an answer that ends early is worded on its row (gettext_noop texts: translated
    when shown)."""

    stopped: str  # by the user
    shutdown: str  # the server stopped while writing; the text so far is kept
    search_failed: str
    failed: str  # any other error; its type's name follows


_running: dict[str, LiveAnswer] = {}
# Open sockets of this process by group (consumers attach in connect()).
_sockets: dict[str, set[Any]] = {}


def batch_seconds() -> float:
    """How long text gathers before the next frame (and the next read of the upstream)."""
    return min(MAX_BATCH_SECONDS, max(BATCH_SECONDS, BATCH_PER_STREAM * len(_running)))


def dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


@dataclass(eq=False)
class LiveAnswer:
    """One answer being written: its text so far and the frames sent about it.

    Frames are sent by whichever task has news, with no hand-over between tasks on the way:
    the answer's own task after each read (push()), and a socket's task when it starts one
    (relay()). A lock keeps their frames in order. Subclasses say what they are (`kind`,
    `answer_id`, `group`), when frames may begin (ready()), what goes first (announce()),
    and how the text so far is saved (save_batch())."""

    kind: ClassVar[str] = "answer"

    layer: Any = None
    text: str = ""
    seq: int = 0
    rendered_seq: int = 0
    pending: list[str] = field(default_factory=list)
    # The last delta while it is being sent: a stop lands on any await, and a delta cut
    # short must still reach every socket before the answer's end (sockets drop a seq
    # they already have, so sending it again is harmless).
    unsent: dict[str, Any] | None = None
    announced: bool = False
    meta_sent: bool = False
    last_render: float = field(default_factory=time.monotonic)
    relaying: asyncio.Lock = field(default_factory=asyncio.Lock)
    closing: bool = False
    stopped: bool = False
    task: asyncio.Task[None] | None = None
    remote: set[str] = field(default_factory=set)
    joined: set[str] = field(default_factory=set)
    members_checked: float = -1e9
    # The model's start event (backend, model, tier…) plus what the answer cites, saved
    # with the next flush.
    start: dict[str, Any] = field(default_factory=dict)
    start_saved: bool = False
    saved_seq: int = -1
    saved_at: float = field(default_factory=time.monotonic)

    # --- what a subclass says -------------------------------------------------------------

    @property
    def answer_id(self) -> int:
        """The row being filled: `message_id` in every frame."""
        raise NotImplementedError

    @property
    def group(self) -> str:
        """The channel-layer group of the sockets that watch this answer."""
        raise NotImplementedError

    def ready(self) -> bool:
        """Whether frames may go out (the chat starts the model before its rows exist)."""
        return True

    async def announce(self) -> None:
        """Events that go out before the first frame (the chat's new message rows)."""

    # How an answer that ends early is worded on its row.
    endings: ClassVar[Endings]

    async def _generate(self) -> dict[str, Any]:
        """Stream the answer; the fields its end event leaves on the row (ended())."""
        raise NotImplementedError

    @classmethod
    async def save_batch(
        cls, rows: list[tuple[int, str, int]], starts: dict[int, dict[str, Any]]
    ) -> None:
        """Save the text so far of many answers of this kind at once: (id, text, frame
        number) rows, and the start fields of those whose model just answered."""
        raise NotImplementedError

    # --- the machinery ---------------------------------------------------------------------

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.answer_id}"

    def register(self) -> None:
        """Known to this process from now on: saved, stoppable, caught up with."""
        _running[self.key] = self
        _ensure_saver()

    def unregister(self) -> None:
        _running.pop(self.key, None)

    def catchup_frame(self) -> str:
        """Everything sent so far, consistent with `seq` (pending tokens follow as frame seq+1)."""
        return dumps(
            {
                "type": "catchup",
                "message_id": self.answer_id,
                "seq": self.seq,
                "text": self.text,
                "html": render_markdown(self.text),
                "chars": len(self.text),
            }
        )

    async def generated(self) -> dict[str, Any]:
        """_generate()'s fields, or the row's status and error when it ends early: a stop, a
        server shutdown, a failed search, any other error (logged by the subclass's module)."""
        try:
            return await self._generate()
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()  # finish saving; the stream itself is closed already
            error = self.endings.stopped if self.stopped else self.endings.shutdown
            return {"status": "interrupted", "error": error}
        except SearchFailed:
            return {"status": "failed", "error": self.endings.search_failed}
        except Exception as exc:
            logging.getLogger(type(self).__module__).exception("%s failed", self.key)
            return {"status": "failed", "error": f"{self.endings.failed} {type(exc).__name__}"}

    def ended(self, end: dict[str, Any], length_note: str) -> dict[str, Any]:
        """What the model's end event leaves on the answer's row: the status, the error, who
        answered (backend, model, tier), token counts and speed, whether the development
        model wrote it, and the echo guard's verdict; `length_note` is the error of an answer
        cut at the length limit. An answer the guard judged no answer loses the few words
        shown before it was recognised."""
        status = {
            "complete": "complete",
            "interrupted": "interrupted",
            "cancelled": "interrupted",
        }.get(end["outcome"], "failed")
        fields: dict[str, Any] = {"status": status, "error": end.get("error") or ""}
        for name in ("backend", "model", "tier", "prompt_tokens", "completion_tokens"):
            if end.get(name) not in (None, ""):
                fields[name] = end[name]
        fields["ttft_s"] = end.get("ttft_s")
        fields["tokens_per_s"] = end.get("tokens_per_s")
        fields["development"] = bool(end.get("development"))
        fields["echo"] = end.get("echo") or ""
        if fields["echo"] in guard.NO_ANSWER:
            self.text = ""
            self.pending.clear()
        if status == "complete" and end.get("finish_reason") == "length":
            fields["error"] = length_note
        return fields

    def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.stopped = True
            self.task.cancel()

    async def push(self, text: str) -> None:
        """Text the model wrote: on its way in the next frame (sent now)."""
        self.pending.append(text)
        await self.relay()

    async def relay(self) -> None:
        """Send what is new: first the announcement, then which model answers, then the text
        that arrived since the last frame, and now and then the rendered HTML. Does nothing
        before ready()."""
        if not self.ready():
            return
        async with self.relaying:
            if not self.announced:
                self.announced = True
                await self.announce()
            if self.start and not self.meta_sent:
                self.meta_sent = True
                meta = {"type": "meta", "message_id": self.answer_id}
                meta.update({k: self.start[k] for k in META_FIELDS if k in self.start})
                await self.emit({"type": RELAY, "frame": dumps(meta)})
            if self.unsent is not None:
                await self.emit(self.unsent)
                self.unsent = None
            if not self.pending:
                return
            chunk = "".join(self.pending)
            self.pending.clear()
            self.text += chunk
            self.seq += 1
            frame = {"type": "delta", "message_id": self.answer_id, "seq": self.seq, "text": chunk}
            self.unsent = {"type": RELAY, "frame": dumps(frame)}
            await self.emit(self.unsent)
            self.unsent = None
            now = time.monotonic()
            # Re-rendering grows with the text; with many answers at once, render less often.
            every = RENDER_SECONDS * max(1.0, len(_running) / 40)
            if now - self.last_render >= every and not self.closing:
                self.last_render = now
                await self._send_render()

    async def _send_render(self) -> None:
        if self.rendered_seq == self.seq:
            return
        self.rendered_seq = self.seq
        frame = {
            "type": "render",
            "message_id": self.answer_id,
            "seq": self.seq,
            "html": render_markdown(self.text),
            "chars": len(self.text),
        }
        await self.emit({"type": RELAY, "frame": dumps(frame)})

    async def emit(self, event: dict[str, Any]) -> None:
        """Deliver an event to every socket of the group, in order.

        Sockets in this process get it directly (their deliver()); sockets served by other
        workers (members of the group found in Redis) through the channel layer. The common
        case, the asker's own socket in this process, thus costs no Redis round trip and no
        serialization per frame."""
        for socket in tuple(_sockets.get(self.group, ())):
            await socket.deliver(event)
        if self.layer is None:
            return
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
                log.warning("answer frame to %s not delivered", channel, exc_info=True)


# --- saving the text so far: one batch per kind of answer per process --------------------------

_savers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}


def _ensure_saver() -> None:
    loop = asyncio.get_running_loop()
    for old in [old for old in _savers if old.is_closed()]:
        del _savers[old]
    if loop not in _savers:
        _savers[loop] = loop.create_task(_save_forever(loop), name="answer-saver")


async def _save_forever(loop: asyncio.AbstractEventLoop) -> None:
    """Every FLUSH_SECONDS, save the text so far of every answer this process writes (and a
    heartbeat for those that did not grow), one database call per kind of answer: a few
    statements a second per process, where one flush per answer meant hundreds a second, each
    a thread hop and a commit competing with new questions on their way to the first token."""
    while True:
        await asyncio.sleep(FLUSH_SECONDS)
        mine = [a for a in _running.values() if a.task is not None and a.task.get_loop() is loop]
        if not mine:
            del _savers[loop]  # no await since the check: a new answer starts a new saver
            return
        now = time.monotonic()
        due = [a for a in mine if a.seq != a.saved_seq or now - a.saved_at >= HEARTBEAT_SECONDS]
        for kind in {type(a) for a in due}:
            await _save(kind, [a for a in due if type(a) is kind], now)


async def _save(kind: type[LiveAnswer], answers: Iterable[LiveAnswer], now: float) -> None:
    batch = list(answers)
    rows = [(a.answer_id, a.text, a.seq) for a in batch]
    starts = {a.answer_id: a.start for a in batch if a.start and not a.start_saved}
    try:
        await kind.save_batch(rows, starts)
    except Exception:
        log.warning("saving %d streaming answers failed; retrying", len(rows), exc_info=True)
        return
    for answer, (_id, _text, seq) in zip(batch, rows, strict=True):
        answer.saved_seq, answer.saved_at = seq, now
        answer.start_saved = answer.start_saved or answer.answer_id in starts


# --- sockets, the registry and the control channel -------------------------------------------

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
    name: str = await layer.new_channel()
    _control[loop] = (name, asyncio.create_task(_listen(layer, name)))
    return name


async def _listen(layer: Any, channel: str) -> None:
    while True:
        try:
            event = await layer.receive(channel)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("answer control channel failed; listening again", exc_info=True)
            await asyncio.sleep(1)
            continue
        if event.get("type") != CONTROL:
            continue
        answer = _running.get(str(event.get("key", "")))
        if answer is None:
            continue
        if event.get("action") == "stop":
            answer.stop()
        elif event.get("action") == "catchup" and event.get("reply_to"):
            # From now on that socket gets every frame too; it drops what the catch-up holds.
            answer.remote.add(event["reply_to"])
            answer.joined.add(event["reply_to"])
            await layer.send(event["reply_to"], {"type": RELAY, "frame": answer.catchup_frame()})


def attach(group: str, socket: Any) -> None:
    _sockets.setdefault(group, set()).add(socket)


def detach(group: str, socket: Any) -> None:
    sockets = _sockets.get(group)
    if sockets is not None:
        sockets.discard(socket)
        if not sockets:
            del _sockets[group]


async def remote_members(layer: Any, group: str) -> set[str]:
    """Channels in `group` that belong to other processes (Redis layer only).

    The one place that reads channels_redis' own storage: a group is a sorted set of channel
    names under layer._group_key(group), and this process's channels share its client prefix.
    A channels_redis upgrade that changes this breaks test_relay, not the chat."""
    if not isinstance(layer, RedisChannelLayer):
        return set()  # the in-memory layer serves one process: every socket is local
    key = layer._group_key(group)
    members = await layer.connection(layer.consistent_hash(group)).zrange(key, 0, -1)
    own = f"specific.{layer.client_prefix}!"
    names = {m.decode() if isinstance(m, bytes) else str(m) for m in members}
    return {name for name in names if not name.startswith(own)}


def local(key: str) -> LiveAnswer | None:
    return _running.get(key)


def running_count() -> int:
    return len(_running)


def forget_all() -> None:
    """Drop the registry (tests, between event loops)."""
    _running.clear()


async def stop(key: str, owner_channel: str) -> bool:
    """Stop an answer here or, through its control channel, in another process."""
    answer = _running.get(key)
    if answer is not None:
        answer.stop()
        return True
    if not owner_channel:
        return False
    layer = get_channel_layer()
    assert layer is not None
    await layer.send(owner_channel, {"type": CONTROL, "action": "stop", "key": key})
    return True


async def request_catchup(key: str, owner_channel: str, reply_to: str) -> None:
    layer = get_channel_layer()
    assert layer is not None
    await layer.send(
        owner_channel, {"type": CONTROL, "action": "catchup", "key": key, "reply_to": reply_to}
    )
