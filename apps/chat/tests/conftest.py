"""Fixtures of the chat tests: sockets signed in as a user, the real vLLM server, clean state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.db import connections
from django.test import Client

from apps.chat import dbthread, generation
from apps.chat.models import Conversation, Message
from apps.inference import relay

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    """Limits and backend state live in Redis; DB threads must let the test DB be dropped."""
    cache.clear()
    yield
    cache.clear()
    relay.forget_all()
    dbthread.close_connections()
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture
def short_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The dev model writes ~20 tokens/s on these CPUs: keep answers short to keep tests fast.
    monkeypatch.setattr(generation, "MAX_TOKENS", 24)


def _login(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def cookie_for(user: Any) -> tuple[bytes, bytes]:
    """The Cookie header of a browser signed in as `user`."""
    return (b"cookie", f"sessionid={await sync_to_async(_login)(user)}".encode())


async def open_socket(
    conversation_id: int, cookie: tuple[bytes, bytes] | None, origin: tuple[bytes, bytes] = ORIGIN
) -> tuple[WebsocketCommunicator, bool, Any]:
    from portal.asgi import application

    headers = [origin] + ([cookie] if cookie else [])
    comm = WebsocketCommunicator(application, f"/ws/chat/{conversation_id}/", headers=headers)
    connected, detail = await comm.connect(timeout=10)
    return comm, connected, detail


async def frames_until(
    comm: WebsocketCommunicator,
    kind: str,
    timeout: float = 120,
    ended_by: str = "",
    **match: Any,
) -> list[dict[str, Any]]:
    """Every frame received up to and including the first of type `kind` matching `match`
    (or the first of type `ended_by`: the answer ended before such a frame came)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            frame = await comm.receive_json_from(timeout=left)
        except TimeoutError:
            kinds = [f"{f['type']}{f.get('seq', '')}" for f in seen]
            raise AssertionError(
                f"no {kind!r} frame within {timeout} s; got {kinds}, the last {seen[-3:]}"
            ) from None
        seen.append(frame)
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return seen
        if ended_by and frame["type"] == ended_by:
            return seen


async def wait_for_status(message_id: int, timeout: float = 120) -> Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await sync_to_async(Message.objects.get)(pk=message_id)
        if message.status != Message.Status.STREAMING:
            return message
        await asyncio.sleep(0.2)
    raise AssertionError(f"answer {message_id} still streaming after {timeout} s")


@pytest.fixture
async def member_conversation(member: Any) -> AsyncIterator[Conversation]:
    conv = await sync_to_async(Conversation.objects.create)(user=member, knowledge=False)
    yield conv
