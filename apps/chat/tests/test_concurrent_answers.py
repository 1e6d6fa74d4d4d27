"""Several users chatting at once, on both engines: on the `make run` SQLite file every
question, periodic save and final save of every answer competes for its one writer."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from apps.chat.models import Conversation, Message
from apps.chat.tests.conftest import cookie_for, frames_until, open_socket
from apps.chat.tests.test_socket import answer_id, text_of

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
    pytest.mark.both_engines,
]

USERS = 4
CONVERSATIONS_EACH = 2


async def _ask(user: User, question: str) -> tuple[int, list[dict[str, Any]]]:
    conv = await sync_to_async(Conversation.objects.create)(user=user, knowledge=False)
    comm, connected, _ = await open_socket(conv.pk, await cookie_for(user))
    assert connected, f"{user.username}: the chat socket was refused"
    try:
        await comm.send_json_to({"type": "send", "text": question, "knowledge": False})
        frames = await frames_until(comm, "done", timeout=180)
    finally:
        await comm.disconnect()
    return conv.pk, frames


async def test_several_users_streaming_at_once_all_get_saved_answers(
    vllm: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from apps.chat import generation

    monkeypatch.setattr(generation, "MAX_TOKENS", 48)
    users = [
        await sync_to_async(User.objects.create_user)(f"engineer{n}", password="pass-12345678")
        for n in range(USERS)
    ]
    questions = [
        (user, f"Name {n + 2} reasons a Kubernetes node becomes NotReady.")
        for n, user in enumerate(users * CONVERSATIONS_EACH)
    ]
    with caplog.at_level(logging.WARNING):
        results = await asyncio.gather(*(_ask(user, q) for user, q in questions))
    for conversation_id, frames in results:
        assert not [f for f in frames if f["type"] == "error"], frames[-3:]
        assert frames[-1]["status"] == "complete", frames[-1]
        answer = await sync_to_async(Message.objects.get)(pk=answer_id(frames))
        assert answer.conversation_id == conversation_id
        assert answer.status == Message.Status.COMPLETE and answer.content.strip()
        assert answer.content == text_of(frames, answer.pk)
        assert answer.completion_tokens and answer.model == "gemma-3-270m"
    # Warnings of the chat (a periodic save that failed and was retried) or of the database.
    # (The test backends include one on a closed port, whose failovers warn as they should.)
    problems = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING
        and (r.name.startswith("apps.chat") or "locked" in r.getMessage())
    ]
    assert not problems, problems
