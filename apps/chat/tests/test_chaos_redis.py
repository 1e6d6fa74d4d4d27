"""Chaos: Redis killed (SIGKILL) and started again on the same port while chat answers stream,
on the production set: a real portal process (uvicorn) whose channel layer, cache and per-user
limits use a redis-server of this test's own (the machine's Redis is never touched), answers
from the bench token source (bench/token_source.py, numbered tokens).

While Redis is gone and after it is back, with the same portal process: answers under way
finish whole or end with a clean error frame; the sockets stay open (a reconnect works too);
a question asked meanwhile is answered or refused with a message a user understands; and new
questions are answered, counted against the limits in Redis again."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from apps.chat.models import Conversation, Message
from apps.chat.tests.conftest import cookie_for
from apps.chat.tests.test_socket import text_of
from apps.inference.models import Backend
from apps.scenarios.tests.redis_servers import RedisServer
from common.testing import database_url, free_port, wait_for_http

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.chaos, pytest.mark.timeout(120)]

ROOT = Path(settings.BASE_DIR)
TOKENS = 100  # at 25 tokens/s: four seconds of streaming each
WHOLE = "".join(f" w{i}" for i in range(TOKENS))
PREFIX = "chaos-redis"


@pytest.fixture
def own_redis() -> Iterator[dict[str, RedisServer]]:
    """The test's redis-server; the test replaces it with one on the same port."""
    box = {"server": RedisServer()}
    try:
        yield box
    finally:
        box["server"].stop()


@pytest.fixture
def redis_portal(own_redis: dict[str, RedisServer]) -> Iterator[subprocess.Popen[bytes]]:
    port = free_port()
    command = [sys.executable, str(ROOT / "bench/token_source.py"), "--port", str(port)]
    command += ["--rate", "25", "--first-token", "0.05", "--max-tokens", str(TOKENS)]
    source = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_http(f"http://127.0.0.1:{port}/health", source)
    Backend.objects.create(
        name="synthetic", url=f"http://127.0.0.1:{port}/v1", model="synthetic", tier="fast"
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": own_redis["server"].url,
        "CACHE_PREFIX": PREFIX,
        "LLM_POLL_IN_WEB": "false",
        "LLM_USER_MAX_STREAMS": "5",
    }
    portal_port = free_port()
    log = open(Path(settings.VAR_DIR) / "chaos-redis-portal.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--port", str(portal_port)]
        + ["--host", "127.0.0.1", "--ws", "websockets-sansio", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    proc.base = f"http://127.0.0.1:{portal_port}"  # type: ignore[attr-defined]
    try:
        wait_for_http(f"{proc.base}/healthz", proc)  # type: ignore[attr-defined]
        yield proc
    finally:
        for p in (proc, source):
            p.terminate()
            p.wait(timeout=20)
        log.close()


class Page:
    """One browser page of a conversation: a real websocket to the portal, every frame kept."""

    def __init__(self, base: str, conversation_id: int, cookie: str) -> None:
        self.url = base.replace("http://", "ws://") + f"/ws/chat/{conversation_id}/"
        self.headers = {"Origin": base, "Cookie": cookie}
        self.frames: list[dict[str, Any]] = []
        self.closed: str | None = None

    async def open(self) -> Page:
        from websockets.asyncio.client import connect

        self.socket = await connect(self.url, additional_headers=self.headers, open_timeout=10)
        return self

    async def ask(self, text: str) -> None:
        await self.socket.send(json.dumps({"type": "send", "text": text, "knowledge": False}))

    async def until(self, *kinds: str, timeout: float = 30, after: int = 0) -> dict[str, Any]:
        """The first frame of one of `kinds` from frame number `after` on, reading on."""
        from websockets.exceptions import ConnectionClosed

        deadline = time.monotonic() + timeout
        while True:
            for frame in self.frames[after:]:
                if frame["type"] in kinds and not (frame["type"] == "delta" and frame["seq"] < 2):
                    return frame
            after = len(self.frames)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kinds} within {timeout} s; got {self.frames[-4:]}")
            try:
                raw = await asyncio.wait_for(self.socket.recv(), left)
            except TimeoutError:
                continue
            except ConnectionClosed as exc:
                self.closed = f"{exc.rcvd}"
                raise AssertionError(f"the socket closed: {exc.rcvd}") from None
            self.frames.append(json.loads(raw))

    def answer(self, after: int = 0) -> int:
        return next(
            f["message_id"]
            for f in self.frames[after:]
            if f["type"] == "message" and f["role"] == "assistant"
        )


async def _answered_again(page: Page) -> str:
    """Regenerate the last answer (a second question in the conversation would carry the
    numbered tokens in its history, and the echo guard rightly withholds an answer that
    repeats them), and read it to its end: its status and text as the page shows them."""
    mark = len(page.frames)
    await page.socket.send(json.dumps({"type": "regenerate", "knowledge": False}))
    end = await page.until("done", "error", after=mark, timeout=30)
    assert end["type"] == "done", end
    return f"{end['status']}:{text_of(page.frames[mark:], page.answer(mark))}"


async def test_redis_killed_and_restarted_while_answers_stream(
    member, own_redis: dict[str, RedisServer], redis_portal: subprocess.Popen[bytes]
) -> None:
    base = redis_portal.base  # type: ignore[attr-defined]
    cookie = (await cookie_for(member))[1].decode()
    conversations = [
        await sync_to_async(Conversation.objects.create)(user=member, knowledge=False)
        for _ in range(4)
    ]
    pages = [await Page(base, c.pk, cookie).open() for c in conversations]
    streaming, idle = pages[:3], pages[3]
    for page in streaming:
        await page.ask("count")
    for page in streaming:
        await page.until("delta")  # every answer is under way (frame 2 or later)

    old = own_redis["server"]
    old.kill()
    down_at = time.monotonic()
    # While Redis is gone: a new question on an open page is answered or refused cleanly.
    mark = len(idle.frames)
    await idle.ask("count while redis is down")
    meanwhile = await idle.until("done", "error", after=mark, timeout=30)
    if meanwhile["type"] == "error":
        assert meanwhile["code"] and "Redis" not in meanwhile["message"], meanwhile
        assert "Traceback" not in meanwhile["message"], meanwhile
    await asyncio.sleep(max(0.0, 2.0 - (time.monotonic() - down_at)))
    own_redis["server"] = RedisServer(port=old.port)
    old.stop()

    # The answers under way: finished whole, or ended with a clean error frame.
    for page in streaming:
        end = await page.until("done", "error", timeout=30)
        if end["type"] == "done" and end["status"] == "complete":
            assert text_of(page.frames, page.answer()) == WHOLE
        else:
            assert end["type"] == "error" or end["status"] in ("interrupted", "failed"), end
    stored = await sync_to_async(
        lambda: list(
            Message.objects.filter(role=Message.Role.ASSISTANT).values_list("status", flat=True)
        )
    )()
    assert Message.Status.STREAMING not in stored, stored

    # The sockets that lived through it are members of their groups in the new Redis again,
    # so answers written by other workers reach them too.
    fresh = own_redis["server"].client()
    wanted = {f"asgi:group:chat.c{c.pk}".encode() for c in conversations}
    deadline = time.monotonic() + 10
    while set(cast(list[bytes], fresh.keys("asgi:group:*"))) != wanted:
        assert time.monotonic() < deadline, (fresh.keys("asgi:group:*"), wanted)
        await asyncio.sleep(0.2)

    # After: the same sockets answer new questions whole, with the same portal process.
    answers = await asyncio.gather(*(_answered_again(page) for page in pages))
    assert answers == [f"complete:{WHOLE}"] * len(pages)
    # A page opened afresh (a reconnect) works too, and its answer is counted in Redis again.
    again = await Page(base, conversations[0].pk, cookie).open()
    mark = len(again.frames)
    await again.socket.send(json.dumps({"type": "regenerate", "knowledge": False}))
    await again.until("delta", after=mark)
    keys = own_redis["server"].client().keys(f"{PREFIX}:llm:streams:*")
    assert keys, "the per-user limits are not counted in the new Redis"
    end = await again.until("done", after=mark)
    assert end["status"] == "complete"
    assert redis_portal.poll() is None, "the portal process exited"
    for page in [*pages, again]:
        await page.socket.close()
