"""One streaming chat-completions request to an OpenAI-compatible server, read in batches.

aiohttp parses HTTP in C and keeps what arrives in a buffer; a read takes everything buffered.
So a caller that reads every few tens of milliseconds (client.stream's `pace`) wakes once per
batch of tokens, not once per token: relaying hundreds of answers at once, that per-token
wake-up (an HTTP client's Python parsing and timeout bookkeeping) was most of the portal's
CPU. The SSE lines are parsed here as plain JSON for the same reason: a typed object per
token costs about twice as much.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from django.conf import settings

from apps.inference.backends import BackendConfig
from apps.inference.errors import root_cause

# Enough of an error body for its message; a misbehaving server may send far more.
ERROR_BODY_BYTES = 64 * 1024


class HTTPStatusError(Exception):
    """The server refused the request: `status` and the message from its error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


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

    def __init__(self, session: aiohttp.ClientSession, response: aiohttp.ClientResponse) -> None:
        self.session = session
        self.response = response
        self._buffer = b""
        self._done = False

    async def batch(self) -> list[dict[str, Any]] | None:
        """The chunks of everything received so far (waiting for some), None at the end."""
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
        # Closing the connection (not returning it to a pool) is what makes vLLM abort the
        # request and free its KV cache when a user presses Stop.
        self.response.close()
        await self.session.close()


async def open_stream(backend: BackendConfig, body: dict[str, Any]) -> Upstream:
    """POST a streaming chat completion; raises on connection trouble or an HTTP error.

    A session (and connection) per request: a session must be closed on the event loop that
    made it, and requests here come from many loops (the ASGI server's, Celery's, tests');
    one TCP connect per answer costs little next to the answer.
    """
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=settings.LLM_CONNECT_TIMEOUT, sock_read=settings.LLM_READ_TIMEOUT
    )
    headers = {"Accept": "text/event-stream"}
    if backend.api_key:
        headers["Authorization"] = f"Bearer {backend.api_key}"
    session = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0))
    try:
        response = await session.post(f"{backend.url}/chat/completions", json=body, headers=headers)
        if response.status >= 400:
            raw = await response.content.read(ERROR_BODY_BYTES)
            response.close()
            raise HTTPStatusError(response.status, _error_message(raw))
    except BaseException:
        await session.close()
        raise
    return Upstream(session, response)
