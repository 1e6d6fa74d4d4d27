"""The chat websocket protocol: what the browser sends, and what the server sends back.

Server frames about one answer carry `seq`, the number of the last text frame they include;
the browser applies a `delta` only if it is the next number, drops numbers it has already
seen, and asks for a `resync` when one is missing, so no token is lost or repeated even when
a catch-up and live frames overlap after a reconnect.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

# --- browser -> server -----------------------------------------------------------------------


class SendEvent(TypedDict):
    type: Literal["send"]
    text: str
    tier: NotRequired[str]
    knowledge: NotRequired[bool]


class StopEvent(TypedDict):
    type: Literal["stop"]
    message_id: NotRequired[int]


class RegenerateEvent(TypedDict):
    type: Literal["regenerate"]
    tier: NotRequired[str]
    knowledge: NotRequired[bool]


class ResyncEvent(TypedDict):
    type: Literal["resync"]
    message_id: int


class PongEvent(TypedDict):
    type: Literal["pong"]


ClientEvent = SendEvent | StopEvent | RegenerateEvent | ResyncEvent | PongEvent


# --- server -> browser -----------------------------------------------------------------------


class MessageFrame(TypedDict):
    """A new message row to show: `html` is the server-rendered message block."""

    type: Literal["message"]
    message_id: int
    role: str
    html: str


class CatchupFrame(TypedDict):
    """The whole answer so far, up to and including frame `seq`."""

    type: Literal["catchup"]
    message_id: int
    seq: int
    text: str
    html: str


class DeltaFrame(TypedDict):
    type: Literal["delta"]
    message_id: int
    seq: int
    text: str


class RenderFrame(TypedDict):
    """Sanitized HTML of the answer up to frame `seq`, sent a few times a second at most."""

    type: Literal["render"]
    message_id: int
    seq: int
    html: str


class MetaFrame(TypedDict):
    """Which model answers, once the backend accepted the request."""

    type: Literal["meta"]
    message_id: int
    model: str
    tier: str
    fell_back: bool


class DoneFrame(TypedDict):
    """The answer is finished: `html` replaces the whole message block."""

    type: Literal["done"]
    message_id: int
    seq: int
    status: str
    html: str


class ErrorFrame(TypedDict):
    type: Literal["error"]
    code: str
    message: str


class PingFrame(TypedDict):
    type: Literal["ping"]


ServerFrame = (
    MessageFrame
    | CatchupFrame
    | DeltaFrame
    | RenderFrame
    | MetaFrame
    | DoneFrame
    | ErrorFrame
    | PingFrame
)


# --- between processes, over the channel layer -----------------------------------------------
# Frames and control events of answers being written travel as apps/inference/relay.py sends
# them ("answer.relay", "answer.control"); the chat adds its own two events.


class AddedRow(TypedDict):
    """One new message row as stored: its id, "user" or "assistant", and its text."""

    id: int
    role: str
    content: str


class AddedEvent(TypedDict):
    """New message rows to show (the question and its empty answer), with their content."""

    type: Literal["chat.added"]
    messages: list[AddedRow]


class FinishedEvent(TypedDict):
    """An answer is finished: `row` is its stored state (Message field -> value, as
    actions.finish_stream stored it), or None to read it."""

    type: Literal["chat.finished"]
    message_id: int
    row: NotRequired[dict[str, object] | None]
