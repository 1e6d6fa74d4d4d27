"""A conversation longer than the model's context: the oldest turns are left out and the
question is answered; a question that alone is too long fails with a message that says so."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.chat.models import Conversation, Message
from apps.chat.tests.conftest import cookie_for, frames_until, open_socket
from apps.chat.tests.test_socket import answer_id

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

# Log lines are the densest text for a tokenizer (addresses, timestamps: ~1.6 characters a
# token): 1,400 characters of them are ~900 tokens of the dev model's 4,096.
LOG = "2026-12-04T18:56:10Z ERROR osd.12 heartbeat_check: no reply from 10.0.3.14:6802\n"


async def test_a_conversation_longer_than_the_context_drops_its_oldest_turns(
    vllm: str, member, member_conversation: Conversation, short_answers: None, settings: Any
) -> None:
    # A context of 2,048 tokens: the dev CPU model reads a fresh prompt at ~20 tokens/s, so a
    # prompt filling its whole 4,096 would wait ~3 minutes for the first token.
    settings.LLM_CONTEXT_TOKENS = 2048
    turns = []
    for n in range(4):
        turns.append(
            Message(
                conversation=member_conversation,
                role="user",
                content=f"Turn {n}: what do these lines mean?\n" + LOG * 17,
            )
        )
        turns.append(
            Message(
                conversation=member_conversation,
                role="assistant",
                content=f"Turn {n}: the OSD lost its peer.",
            )
        )
    await sync_to_async(Message.objects.bulk_create)(turns)
    comm, connected, _ = await open_socket(member_conversation.pk, await cookie_for(member))
    assert connected
    question = "And these?\n" + LOG * 16
    await comm.send_json_to({"type": "send", "text": question, "tier": "fast", "knowledge": False})
    frames = await frames_until(comm, "done", timeout=240)
    answer = await sync_to_async(Message.objects.get)(pk=answer_id(frames))
    # Four turns of ~900 tokens and a ~700-token question do not fit: the oldest turns are
    # left out, and the question with what fits beside it is answered.
    assert answer.status == Message.Status.COMPLETE, answer.error
    assert 700 < (answer.prompt_tokens or 0) < 2048
    # The model answered; the dev model may echo its prompt over log lines, and the echo
    # guard then withholds that text (a note instead): either is an answer, not a refusal.
    assert answer.content.strip() or answer.echo in ("withheld", "empty")
    await comm.disconnect()


async def test_a_question_longer_than_the_context_says_so(
    vllm: str, member, member_conversation: Conversation, short_answers: None
) -> None:
    comm, connected, _ = await open_socket(member_conversation.pk, await cookie_for(member))
    assert connected
    await comm.send_json_to({"type": "send", "text": LOG * 90, "tier": "fast", "knowledge": False})
    frames = await frames_until(comm, "done")
    answer = await sync_to_async(Message.objects.get)(pk=answer_id(frames))
    assert answer.status == Message.Status.FAILED and frames[-1]["status"] == "failed"
    assert answer.error.startswith("The question is longer than the model can read")
    assert "Вопрос длиннее, чем модель может прочитать" in frames[-1]["html"]
    await comm.disconnect()
