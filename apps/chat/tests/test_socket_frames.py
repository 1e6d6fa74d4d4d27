"""Hostile frames on the chat socket: each gets an error frame, and the socket stays open."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.chat.models import Conversation
from apps.chat.tests.conftest import cookie_for, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

HOSTILE_TEXT = [
    "not json",
    "{",
    '{"type": "send", "text": ',
    "[" * 100_000,  # the parser recursed once per level until RecursionError
    '{"a":' * 5_000 + "1" + "}" * 5_000,
    "1" * 5_000,  # an integer longer than Python converts
    '"' + "x" * 70_000 + '"',
    "\x00\x01\x02",
    "NaN",
]
HOSTILE_JSON: list[Any] = [
    None,
    [],
    "send",
    {"type": ["send"]},
    {"type": "send", "text": {"$ne": ""}},
    {"type": "send", "text": "hi", "tier": {"a": 1}},
    {"type": "stop", "message_id": {"$gt": 0}},
    {"type": "resync", "message_id": [1, 2]},
    {"type": "resync"},
]


async def _conversation(member: Any) -> Conversation:
    return await sync_to_async(Conversation.objects.create)(user=member, knowledge=False)


async def test_bad_frames_get_an_error_frame_and_the_socket_stays(member: Any) -> None:
    conversation = await _conversation(member)
    comm, connected, _ = await open_socket(conversation.pk, await cookie_for(member))
    assert connected
    await comm.send_to(bytes_data=b"\x00\xff binary")
    for text in HOSTILE_TEXT:
        await comm.send_to(text_data=text)
    for _frame in range(1 + len(HOSTILE_TEXT)):
        frame = await comm.receive_json_from(timeout=10)
        assert frame["type"] == "error" and frame["code"] in ("bad_frame", "bad_event"), frame
    for content in HOSTILE_JSON:
        await comm.send_json_to(content)
        # A stop or resync naming no answer being written has nothing to say back.
        if not await comm.receive_nothing(timeout=0.5):
            frame = await comm.receive_json_from(timeout=10)
            assert frame["type"] == "error", (content, frame)
    # Still the same open socket: it answers a known event.
    await comm.send_json_to({"type": "bogus"})
    frame = await comm.receive_json_from(timeout=10)
    assert frame == {"type": "error", "code": "bad_event", "message": frame["message"]}
    await comm.disconnect()
