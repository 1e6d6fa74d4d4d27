"""One grounded-answer service: the same question asked in the chat, through /v1 and as a
search answer cites the same sources (real vLLM, real index)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.test import AsyncClient
from django.urls import reverse

from apps.accounts.tokens import create_token
from apps.chat.models import Conversation, Message
from apps.chat.tests.conftest import cookie_for, frames_until, open_socket
from apps.chat.tests.test_socket import answer_id
from apps.inference.models import LLMCall
from apps.knowledge.search import answering, english

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_engines]

QUESTION = "How do I fix Kafka consumer lag on the billing topic?"


@pytest.fixture
def several_sources(knowledge_base: None, admin_user: Any, tmp_path: Path) -> None:
    """Beside the chat's test knowledge base: more documents about the same question, so
    that the choice among them (how many, how many per document, in which order) shows."""
    from apps.knowledge import actions

    more = tmp_path / "more"
    more.mkdir()
    (more / "lag-deep-dive.md").write_text(
        "# Kafka consumer lag deep dive\n\n"
        + "\n\n".join(
            f"## Part {n}\n\nConsumer lag on the billing topic, part {n}: check the "
            "billing-sink consumer group, its partitions and its restarts."
            for n in range(1, 5)
        )
        + "\n"
    )
    (more / "grafana.md").write_text(
        "# Kafka dashboards\n\n## Consumer lag\n\nThe billing topic's consumer lag is on the "
        "Kafka / Consumers dashboard in Grafana.\n"
    )
    actions.ingest_directory(admin_user, more, "more-runbooks", [])


def _key(citations: list[dict[str, Any]]) -> list[tuple[int, str, str, str]]:
    return [(c["n"], c["title"], c["section"], c["chunk"]) for c in citations]


async def test_chat_v1_and_the_search_answer_cite_the_same_sources(
    vllm: str, member: Any, several_sources: None, short_answers: None, monkeypatch: Any
) -> None:
    from apps.knowledge import views

    monkeypatch.setattr(views, "ANSWER_TOKENS", 16)
    expected = _key((await sync_to_async(answering.ground)(member, QUESTION)).citations)
    assert len(expected) >= 3  # a real choice among several documents
    assert all(title != "Break-glass access for Kafka" for _n, title, *_ in expected)

    conv = await sync_to_async(Conversation.objects.create)(user=member, knowledge=True)
    comm, _, _ = await open_socket(conv.pk, await cookie_for(member))
    await comm.send_json_to({"type": "send", "text": QUESTION, "tier": "fast", "knowledge": True})
    frames = await frames_until(comm, "done")
    await comm.disconnect()
    chat = await sync_to_async(Message.objects.get)(pk=answer_id(frames))

    _row, raw = await sync_to_async(create_token)(member, "grounding")
    body = {"model": "knowledge", "messages": [{"role": "user", "content": QUESTION}]}
    api = await AsyncClient().post(
        "/v1/chat/completions",
        json.dumps({**body, "max_tokens": 16}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert api.status_code == 200, api.content

    client = AsyncClient()
    await client.aforce_login(member)
    response = await client.get(reverse("knowledge:answer"), {"q": QUESTION})
    stream: Any = response.streaming_content  # type: ignore[attr-defined]
    sse = b"".join([chunk async for chunk in stream]).decode()
    events = [json.loads(line[6:]) for line in sse.splitlines() if line.startswith("data: ")]
    search = next(e["citations"] for e in events if e["type"] == "citations")

    assert _key(chat.citations) == expected
    assert _key(api.json()["x_opsdesk_citations"]) == expected
    assert _key(search) == expected


async def test_a_russian_question_is_translated_before_the_chats_search_thread_runs(
    vllm: str,
    member: Any,
    knowledge_base: None,
    short_answers: None,
    settings: Any,
    monkeypatch: Any,
) -> None:
    settings.KNOWLEDGE_TRANSLATION = True
    question = "как исправить Kafka consumer lag на топике billing?"
    await cache.adelete(english.cache_key(question))
    english.forget()
    found_cached: list[bool] = []
    asked = english.question

    def watched(text: str) -> str:  # what the search thread finds when it asks
        found_cached.append(cache.get(english.cache_key(text)) is not None)
        return asked(text)

    monkeypatch.setattr(english, "question", watched)
    conv = await sync_to_async(Conversation.objects.create)(user=member, knowledge=True)
    comm, _, _ = await open_socket(conv.pk, await cookie_for(member))
    await comm.send_json_to({"type": "send", "text": question, "tier": "fast", "knowledge": True})
    frames = await frames_until(comm, "done")
    await comm.disconnect()
    answer = await sync_to_async(Message.objects.get)(pk=answer_id(frames))
    assert answer.status == Message.Status.COMPLETE
    assert [c["title"] for c in answer.citations][:1] == ["Kafka consumer lag"]
    outcomes = [c.outcome async for c in LLMCall.objects.filter(purpose=english.PURPOSE)]
    assert outcomes == ["complete"]
    # The model was asked on the loop; the search thread found the translation waiting.
    assert found_cached and all(found_cached)
