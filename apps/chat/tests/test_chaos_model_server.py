"""Chaos: a model server process killed mid-answer. Two replicas of one tier, each a real
HTTP server process (bench/token_source.py, numbered tokens); the one writing the answer is
killed with SIGKILL. The answer ends "interrupted" with the text so far kept, and the next
question is answered by the other replica."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from apps.chat.models import Conversation, Message
from apps.chat.tests.conftest import cookie_for, frames_until, open_socket
from apps.chat.tests.test_socket import answer_id, text_of
from apps.inference.models import Backend
from common.testing import free_port, wait_for_http

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.chaos]

ROOT = Path(settings.BASE_DIR)


@pytest.fixture
def replicas() -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in ("replica-a", "replica-b"):
            port = free_port()
            command = [sys.executable, str(ROOT / "bench/token_source.py"), "--port", str(port)]
            command += ["--rate", "20", "--first-token", "0.05", "--max-tokens", "400"]
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for_http(f"http://127.0.0.1:{port}/health", proc)
            Backend.objects.create(
                name=name, url=f"http://127.0.0.1:{port}/v1", model="synthetic", tier="fast"
            )
            procs[name] = proc
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
            proc.wait(timeout=10)


async def test_a_model_server_killed_mid_answer(
    member, member_conversation: Conversation, replicas: dict[str, subprocess.Popen[bytes]]
) -> None:
    comm, connected, _ = await open_socket(member_conversation.pk, await cookie_for(member))
    assert connected
    await comm.send_json_to({"type": "send", "text": "count", "tier": "fast", "knowledge": False})
    frames = await frames_until(comm, "meta", timeout=30)
    serving = frames[-1]["backend"]
    frames += await frames_until(comm, "delta", timeout=30)
    frames += await frames_until(comm, "delta", timeout=30)
    replicas[serving].send_signal(signal.SIGKILL)
    frames += await frames_until(comm, "done", timeout=60)
    answer = await sync_to_async(Message.objects.get)(pk=answer_id(frames))
    assert answer.status == Message.Status.INTERRUPTED and frames[-1]["status"] == "interrupted"
    # The text so far is kept: the numbered tokens from the first, in order.
    assert answer.content.startswith(" w0 w1") and answer.content == text_of(frames, answer.pk)
    assert f"{serving} stopped mid-answer" in answer.error

    await comm.send_json_to({"type": "send", "text": "again", "tier": "fast", "knowledge": False})
    again = await frames_until(comm, "done", timeout=60)
    second = await sync_to_async(Message.objects.get)(pk=answer_id(again))
    other = ({"replica-a", "replica-b"} - {serving}).pop()
    assert second.backend == other and second.status == Message.Status.COMPLETE, second.error
    assert second.content == "".join(f" w{i}" for i in range(len(second.content.split())))
    await comm.disconnect()
