"""One streaming (chat) completions request to an OpenAI-compatible server, read in batches.

aiohttp parses HTTP in C and keeps what arrives in a buffer; a read takes everything buffered.
So a caller that reads every few tens of milliseconds (client.stream's `pace`) wakes once per
batch of tokens, not once per token: relaying hundreds of answers at once, that per-token
wake-up (an HTTP client's Python parsing and timeout bookkeeping) was most of the portal's
CPU. The SSE lines are parsed here as plain JSON for the same reason: a typed object per
token costs about twice as much.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp
from django.conf import settings

from apps.inference.backends import BackendConfig
from apps.inference.errors import root_cause

# Enough of an error body for its message; a misbehaving server may send far more.
ERROR_BODY_BYTES = 64 * 1024
# Idle connections are dropped before vLLM's server (uvicorn, 5 s keep-alive) drops them, so
# a request never goes out on a connection the server is closing.
KEEPALIVE_SECONDS = 4.0

# The ASGI server's loop has one session for its lifetime (open(), close() from the lifespan):
# kept-alive connections and cached DNS answers take a connect and a resolver thread off each
# answer's way to its first token. Other loops (Celery tasks, scripts) use one per call.
_shared: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}


def _session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_SECONDS)
    return aiohttp.ClientSession(connector=connector)


def open_shared() -> None:
    """Give the running loop a session that every call on it shares (until close_shared)."""
    _shared.setdefault(asyncio.get_running_loop(), _session())


async def close_shared() -> None:
    session = _shared.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


class HTTPStatusError(Exception):
    """The server refused the request: `status` and the message from its error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


# How servers word a prompt longer than the model's context: vLLM "This model's maximum context
# length is 4096 tokens. However, your prompt contains at least 4097 input tokens...",
# OpenAI "...maximum context length...", TGI/llama.cpp "...exceed(s) the context...".
_CONTEXT_WORDS = re.compile(
    r"maximum context length|context length exceeded|exceeds? (?:the )?(?:available )?context"
    r"|context_length_exceeded|too many (?:input )?tokens",
    re.IGNORECASE,
)


def context_exceeded(exc: BaseException) -> bool:
    """Whether the server refused the request for a prompt longer than its model's context:
    the client's error (400 context_length_exceeded), not the server's."""
    return (
        isinstance(exc, HTTPStatusError)
        and exc.status in (400, 413, 422)
        and bool(_CONTEXT_WORDS.search(exc.message))
    )


class StreamError(Exception):
    """An error the server reported inside the stream, or a stream that said nothing."""


def describe(exc: BaseException) -> str:
    """What went wrong, in a line for admins and for the answer's error."""
    if isinstance(exc, TimeoutError):  # before OSError: a TimeoutError is one
        return "timed out"
    if isinstance(exc, HTTPStatusError | StreamError):
        return str(exc)[:500]
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connection failed: {root_cause(exc)}"[:500]
    if isinstance(exc, ValueError):
        return f"unreadable stream: {exc}"[:500]
    return f"connection lost: {root_cause(exc)}"[:500]


def retryable(exc: BaseException) -> bool:
    """Whether another backend may succeed where this one did not (before the first token)."""
    if isinstance(exc, HTTPStatusError):
        # 4xx other than these is the request's fault (too long, malformed) everywhere.
        return exc.status >= 500 or exc.status in (401, 403, 404, 408, 429)
    return True  # connection, timeout, a broken or empty stream: this backend's trouble


def _error_message(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip()[:300] or "no details"
    # OpenAI's shape is {"error": {"message": ...}}; vLLM also answers {"message": ...}.
    error = body.get("error", body) if isinstance(body, dict) else body
    message = error.get("message") if isinstance(error, dict) else error
    return str(message or body)[:300]


class Upstream:
    """An open streaming response, read as batches of parsed SSE chunks."""

    def __init__(self, response: aiohttp.ClientResponse, own: aiohttp.ClientSession | None) -> None:
        self.response = response
        self.own = own  # this call's own session, closed with it
        self._buffer = b""
        self._done = False
        self._held = False

    def hold(self) -> None:
        """Leave what arrives in the socket's buffer until the next batch(): a caller that
        reads at its own pace then costs one network read per batch, not one per token."""
        protocol = self._protocol()
        # A connection lost since the last read has no parser left to pause (aiohttp asserts
        # on it): the next batch() reads the end of it and reports the loss.
        if protocol is not None and protocol.is_connected():
            protocol.pause_reading()
            self._held = True

    def _protocol(self) -> Any:
        connection = self.response.connection
        return connection.protocol if connection is not None else None

    async def batch(self) -> list[dict[str, Any]] | None:
        """The chunks of everything received so far (waiting for some), None at the end."""
        if self._held:
            self._held = False
            protocol = self._protocol()
            if protocol is not None:
                protocol.resume_reading()
        while not self._done:
            piece = await self.response.content.readany()
            if not piece:
                self._done = True
                break
            self._buffer += piece
            if b"\n" not in piece:
                continue
            *lines, self._buffer = self._buffer.split(b"\n")
            chunks = []
            for line in lines:
                if not line.startswith(b"data:"):
                    continue  # blank separators, comments, event names
                data = line[5:].strip()
                if data == b"[DONE]":
                    self._done = True
                    break
                chunk = json.loads(data)
                error = chunk.get("error") if isinstance(chunk, dict) else None
                if error is not None:
                    message = error.get("message") if isinstance(error, dict) else error
                    raise StreamError(str(message or "error event in the stream"))
                chunks.append(chunk)
            if chunks:
                return chunks
        return None

    async def close(self) -> None:
        if self._done:
            self.response.release()  # read to the end: the connection can serve the next call
        else:
            # Closing the connection is what makes vLLM abort the request and free its KV
            # cache when a user presses Stop.
            self.response.close()
        if self.own is not None:
            await self.own.close()


async def open_stream(
    backend: BackendConfig, body: dict[str, Any], endpoint: str = "chat/completions"
) -> Upstream:
    """POST a streaming completion (`endpoint`: "chat/completions", or "completions" for a
    base model's plain prompt); raises on connection trouble or an HTTP error."""
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=settings.LLM_CONNECT_TIMEOUT, sock_read=settings.LLM_READ_TIMEOUT
    )
    headers = {"Accept": "text/event-stream"}
    if backend.api_key:
        headers["Authorization"] = f"Bearer {backend.api_key}"
    shared = _shared.get(asyncio.get_running_loop())
    own = None if shared is not None else _session()
    session = shared or own
    assert session is not None
    url = f"{backend.url}/{endpoint}"
    try:
        try:
            response = await session.post(url, json=body, headers=headers, timeout=timeout)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            # On a kept-alive connection this is the server (or a proxy with a shorter
            # keep-alive) closing it just as the request went out: the request never got
            # there, so it goes once more. A connect that failed is final.
            if own is not None or isinstance(exc, aiohttp.ClientConnectorError):
                raise
            response = await session.post(url, json=body, headers=headers, timeout=timeout)
        if response.status >= 400:
            raw = await response.content.read(ERROR_BODY_BYTES)
            response.close()
            raise HTTPStatusError(response.status, _error_message(raw))
    except BaseException:
        if own is not None:
            await own.close()
        raise
    return Upstream(response, own)
