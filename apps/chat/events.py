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


class RelayEvent(TypedDict):
    """A frame already serialized once by the generator, relayed as is to each socket."""

    type: Literal["chat.relay"]
    frame: str


class ControlEvent(TypedDict):
    """Sent to the process that owns a generation: stop it, or send a catch-up to a socket."""

    type: Literal["chat.control"]
    action: Literal["stop", "catchup"]
    message_id: int
    reply_to: NotRequired[str]
