"""Two ASGI processes: the answer is written by one worker, watched and stopped from another.

The portal runs under uvicorn in a subprocess (the worker that owns the generation); this test
process serves the second socket through the same Redis channel layer, as a second worker
behind a load balancer would.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.chat.models import Conversation, Message
from apps.chat.tests.conftest import cookie_for, frames_until, open_socket, wait_for_status
from apps.chat.tests.test_socket import text_of
from common.testing import model_server_report

LONG_QUESTION = "Write a long numbered list: 40 checks to run when a Kubernetes pod restarts."

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

# The whole exchange normally takes seconds; the budget leaves room for a slow CPU model
# server and ends with what each step saw instead of a bare pytest timeout.
BUDGET_SECONDS = 240


def summary(frames: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(f["type"], f.get("seq"), len(f.get("text", ""))) for f in frames[-12:]]


class EndedEarly(Exception):
    """The model finished its answer before the test could catch it up and stop it."""


# A base model at temperature 0.2 sometimes answers the long question in one line: the
# relay is then not exercised, so the test asks again in a new conversation.
ATTEMPTS = 3


async def test_another_worker_catches_up_streams_and_stops_the_answer(
    portal: str, vllm: str, member
) -> None:
    cookie = await cookie_for(member)
    early: list[str] = []
    deadline = asyncio.get_running_loop().time() + BUDGET_SECONDS
    for _ in range(ATTEMPTS):
        try:
            await catch_up_and_stop(portal, vllm, member, cookie, deadline)
            return
        except EndedEarly as exc:
            early.append(str(exc))
    pytest.fail(f"every answer ended before it could be stopped: {early}")


async def catch_up_and_stop(
    portal: str, vllm: str, member: Any, cookie: Any, deadline: float
) -> None:
    from websockets.asyncio.client import connect

    conv = await sync_to_async(Conversation.objects.create)(user=member, knowledge=False)
    headers = {"Origin": portal, "Cookie": cookie[1].decode()}
    url = portal.replace("http://", "ws://") + f"/ws/chat/{conv.pk}/"
    step = "the owner's socket waits for the answer's third frame"
    owner_frames: list[dict[str, Any]] = []
    frames: list[dict[str, Any]] = []
    try:
        async with (
            asyncio.timeout_at(deadline),
            connect(url, additional_headers=headers) as owner,
        ):
            await owner.send(
                json.dumps({"type": "send", "text": LONG_QUESTION, "knowledge": False})
            )
            answer = None
            while True:
                frame = json.loads(await owner.recv())
                owner_frames.append(frame)
                if frame["type"] == "message" and frame["role"] == "assistant":
                    answer = frame["message_id"]
                if frame["type"] == "done":
                    raise EndedEarly(f"before its third frame: {summary(owner_frames)}")
                if frame["type"] == "delta" and frame["seq"] >= 3:
                    break
            assert answer is not None

            # A socket in this process: it must catch up from the other worker and then stream.
            step = "the second worker's socket waits for its catch-up"
            comm, connected, _ = await open_socket(conv.pk, cookie)
            assert connected
            try:
                frames = await frames_until(comm, "catchup", message_id=answer)
                grown = len(frames[-1]["text"])
                step = "the second worker's socket waits for the text to grow past its catch-up"
                while len(text_of(frames, answer, complete=False)) <= grown + 20:
                    frame = await comm.receive_json_from(timeout=BUDGET_SECONDS)
                    frames.append(frame)
                    if frame["type"] == "done":
                        raise EndedEarly(f"right after the catch-up: {summary(frames)}")
                # Stop from here cancels the generation over there, through its control
                # channel.
                step = "Stop from the second worker waits for the answer to end"
                await comm.send_json_to({"type": "stop"})
                frames += await frames_until(comm, "done", timeout=20, message_id=answer)
                assert frames[-1]["status"] == "interrupted"
                stored = await wait_for_status(answer, timeout=10)
                assert stored.status == Message.Status.INTERRUPTED
                seen = text_of(frames, answer)
                assert stored.content == seen and len(seen) > grown
            finally:
                await comm.disconnect()
    except TimeoutError:
        raise AssertionError(
            f"{step}: still waiting after {BUDGET_SECONDS} s; owner's frames "
            f"{summary(owner_frames)}, second socket's {summary(frames)}; "
            f"{model_server_report(vllm)}"
        ) from None
