"""Fixtures of the chat tests: sockets signed in as a user, the real vLLM server, clean state."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.test import Client

from apps.chat import dbthread, generation
from apps.chat.models import Conversation, Message

ORIGIN = (b"origin", b"http://127.0.0.1:8000")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    """Limits and backend state live in Redis; DB threads must let the test DB be dropped."""
    cache.clear()
    yield
    cache.clear()
    generation._running.clear()
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
    comm: WebsocketCommunicator, kind: str, timeout: float = 120, **match: Any
) -> list[dict[str, Any]]:
    """Every frame received up to and including the first of type `kind` matching `match`."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind!r} frame within {timeout} s; got {seen[-5:]}")
        try:
            frame = await comm.receive_json_from(timeout=left)
        except TimeoutError:
            raise AssertionError(f"no {kind!r} frame within {timeout} s; got {seen[-5:]}") from None
        seen.append(frame)
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def portal(transactional_db: None, vllm: str) -> Iterator[str]:
    """The portal under uvicorn, as in production, on the test database."""
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "portal.settings"}
    log = open(Path(settings.VAR_DIR) / "browser-portal.log", "w")  # noqa: SIM115
    command = [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--ws", "websockets-sansio", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the portal did not start; see {log.name}")
            time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


@pytest.fixture
def knowledge_base(tmp_path: Path, settings: Any, admin_user: Any) -> Iterator[None]:
    """Two indexed sources in a Qdrant of this test's own: one for everyone, one for secops."""
    from apps.knowledge import actions, index

    index.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = str(tmp_path / "qdrant")
    settings.KNOWLEDGE_JOBS_INLINE = True
    public, secret = tmp_path / "runbooks", tmp_path / "secops"
    public.mkdir()
    secret.mkdir()
    (public / "kafka-lag.md").write_text(
        "# Kafka consumer lag\n\n## Fixing lag on the billing topic\n\n"
        "When the billing-sink consumer group lags on the billing topic, restart it with "
        "`kubectl rollout restart deploy/billing-sink -n billing`, then watch the lag with "
        "`kafka-consumer-groups --describe --group billing-sink`.\n"
    )
    (secret / "break-glass.md").write_text(
        "# Break-glass access for Kafka\n\n## Consumer lag emergencies\n\n"
        "For Kafka consumer lag on the billing topic that restarts do not fix, the secops "
        "break-glass account kafka-root may reset offsets.\n"
    )
    actions.ingest_directory(admin_user, public, "runbooks", [])
    actions.ingest_directory(admin_user, secret, "secops-only", ["secops"])
    yield
    index.close()
