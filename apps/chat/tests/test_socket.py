"""The chat websocket against the real vLLM server, real Redis and real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.chat import consumers
from apps.chat.models import Conversation, Message
from apps.chat.tests.conftest import (
    cookie_for,
    frames_until,
    open_socket,
    wait_for_status,
)
from common.testing import DEV_MODEL_ATTEMPTS, model_server_metrics

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
    pytest.mark.both_engines,
]

QUESTION = "List three things to check when a Kubernetes pod restarts."
# An answer long enough that it is still being written when a test stops it.
LONG = "Write a long numbered list: 40 checks to run when a Kubernetes pod restarts."


def text_of(frames: list[dict[str, Any]], message_id: int, complete: bool = True) -> str:
    """The answer as the browser (static/js/chat.js) rebuilds it: a catch-up sets the text,
    deltas apply in frame order once each, frames ahead of a gap wait for what fills it."""
    text, seq, ahead = "", 0, {}
    for frame in frames:
        if frame.get("message_id") != message_id:
            continue
        if frame["type"] == "catchup" and frame["seq"] >= seq:
            text, seq = frame["text"], frame["seq"]
        elif frame["type"] == "delta" and frame["seq"] > seq:
            ahead[frame["seq"]] = frame["text"]
        while seq + 1 in ahead:
            seq += 1
            text += ahead.pop(seq)
        # As the browser does: frames a catch-up already covers are dropped, not waited on.
        ahead = {n: part for n, part in ahead.items() if n > seq}
    if complete:  # mid-stream, frames may still wait for the catch-up that fills their gap
        assert not ahead, f"frames {sorted(ahead)} never joined frame {seq}"
    return text


def answer_id(frames: list[dict[str, Any]]) -> int:
    return next(
        f["message_id"] for f in frames if f["type"] == "message" and f["role"] == "assistant"
    )


def running(root: str) -> float:
    return model_server_metrics(root).get("vllm:num_requests_running", 0.0)


async def test_conversation_streams_tokens_and_stores_the_answer_with_metrics(
    vllm: str, member, member_conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.chat import generation

    # Long enough to be seen streaming: the echo guard shows nothing before an answer's tenth
    # word and always keeps its last 40 characters back, so a 24-token answer may come out
    # whole in its final frame.
    monkeypatch.setattr(generation, "MAX_TOKENS", 60)
    comm, connected, _ = await open_socket(member_conversation.pk, await cookie_for(member))
    assert connected
    await comm.send_json_to({"type": "send", "text": QUESTION, "tier": "fast", "knowledge": False})
    frames = await frames_until(comm, "done")
    kinds = [f["type"] for f in frames]
    assert kinds[:2] == ["message", "message"], kinds
    assert kinds.count("delta") > 1, "the answer must arrive in more than one frame"
    meta = next(f for f in frames if f["type"] == "meta")
    assert meta["model"] == "gemma-3-270m" and meta["tier"] == "fast"
    done = frames[-1]
    mid = answer_id(frames)
    answer = await sync_to_async(Message.objects.get)(pk=mid)
    assert answer.status == Message.Status.COMPLETE and done["status"] == "complete"
    assert answer.content == text_of(frames, mid) and answer.content.strip()
    assert answer.model == "gemma-3-270m" and answer.backend in ("cpu-live", "cpu-heavy")
    assert answer.ttft_s is not None and 0 < answer.ttft_s < 30
    assert answer.completion_tokens and answer.completion_tokens > 1
    assert answer.tokens_per_s and answer.tokens_per_s > 0
    assert answer.prompt_tokens and answer.prompt_tokens > 5
    assert "gemma-3-270m" in done["html"] and "Первый токен" in done["html"]
    question = await sync_to_async(Message.objects.get)(
        conversation=member_conversation, role="user"
    )
    assert question.content == QUESTION
    conv = await sync_to_async(Conversation.objects.get)(pk=member_conversation.pk)
    assert conv.title.startswith("List three things")

    # Regenerate answers the same question again; the first answer is kept but hidden.
    await comm.send_json_to({"type": "regenerate", "tier": "fast", "knowledge": False})
    again = await frames_until(comm, "done")
    second = answer_id(again)
    assert second != mid and (await wait_for_status(second)).status == Message.Status.COMPLETE
    first = await sync_to_async(Message.objects.get)(pk=mid)
    assert first.superseded
    await comm.disconnect()


async def test_stop_cancels_the_upstream_request(
    vllm: str, member, member_conversation: Conversation
) -> None:
    comm, connected, _ = await open_socket(member_conversation.pk, await cookie_for(member))
    assert connected
    # The dev model sometimes ends an answer by itself before the stop can arrive: it stops
    # writing, or turns into an echo of its prompt that the guard withholds or cuts. Only
    # then ask again: a stop that does not stop, or a request gone from the model server
    # while the answer is still streaming, fails.
    for _attempt in range(DEV_MODEL_ATTEMPTS):
        await comm.send_json_to({"type": "send", "text": LONG, "tier": "fast", "knowledge": False})
        frames = await frames_until(comm, "delta", seq=2, ended_by="done")
        before = 0.0
        if frames[-1]["type"] != "done":
            before = await asyncio.to_thread(running, vllm)
            if before >= 1:
                await comm.send_json_to({"type": "stop"})
            frames += await frames_until(comm, "done", timeout=15)
        stopped_at = time.monotonic()
        answer = await sync_to_async(Message.objects.get)(pk=answer_id(frames))
        if answer.status != Message.Status.COMPLETE:
            break
    assert before >= 1, f"the request left the model server early: {answer.status}/{answer.echo}"
    assert frames[-1]["status"] == "interrupted"
    # The model server stops generating too: its running count drops at once (to zero when
    # nothing else uses it; colleagues' runs may share the dev server, hence "one fewer").
    while await asyncio.to_thread(running, vllm) > before - 1:
        assert time.monotonic() - stopped_at < 5, "vLLM still runs the stopped request"
        await asyncio.sleep(0.2)
    assert answer.status == Message.Status.INTERRUPTED and answer.content
    assert answer.content.startswith(text_of(frames, answer.pk))
    assert "Остановлено" in frames[-1]["html"]  # said in the page's language
    await comm.disconnect()


async def test_closing_the_browser_does_not_stop_the_answer(
    vllm: str, member, member_conversation: Conversation, short_answers: None
) -> None:
    comm, _, _ = await open_socket(member_conversation.pk, await cookie_for(member))
    await comm.send_json_to({"type": "send", "text": QUESTION, "knowledge": False})
    frames = await frames_until(comm, "delta", seq=1)
    mid = answer_id(frames)
    await comm.disconnect()
    answer = await wait_for_status(mid)
    assert answer.status == Message.Status.COMPLETE
    assert len(answer.content) > len(text_of(frames, mid))
    assert answer.completion_tokens and answer.completion_tokens > 1


async def test_reopening_catches_up_and_keeps_streaming(
    vllm: str, member, member_conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.chat import generation

    # Long enough to be still written after the reopening, on a CPU where the dev model
    # writes 30 tokens/s too.
    monkeypatch.setattr(generation, "MAX_TOKENS", 300)
    cookie = await cookie_for(member)
    first, _, _ = await open_socket(member_conversation.pk, cookie)
    # The dev model sometimes ends an answer early (it stops, or the echo guard withholds a
    # list it restarts): within two frames, before the page is reopened (the page then shows
    # the answer from the database and no catch-up comes), or with the catch-up. Only then
    # ask again.
    for _attempt in range(DEV_MODEL_ATTEMPTS):
        await first.send_json_to({"type": "send", "text": LONG, "knowledge": False})
        before = await frames_until(first, "delta", seq=3, ended_by="done")
        if before[-1]["type"] == "done":
            continue
        mid = answer_id(before)
        await first.disconnect()
        await asyncio.sleep(0.5)  # tokens keep coming meanwhile
        second, connected, _ = await open_socket(member_conversation.pk, cookie)
        assert connected
        first = second
        try:
            after = await frames_until(second, "catchup", timeout=15, message_id=mid)
        except AssertionError:
            row = await sync_to_async(Message.objects.get)(pk=mid)
            # Still being written and no catch-up: the reopening lost the answer.
            assert row.status != Message.Status.STREAMING, "no catch-up for a live answer"
            continue
        after = [f for f in after if f["type"] != "ping"]
        after += await frames_until(second, "done", message_id=mid)
        catchup = after[0]
        if any(f["type"] == "delta" and f["seq"] > catchup["seq"] for f in after):
            break
    else:
        raise AssertionError("every answer ended before it streamed on the reopened page")
    assert catchup["type"] == "catchup" and catchup["message_id"] == mid
    assert catchup["text"].startswith(text_of(before, mid)) and catchup["seq"] >= 3
    answer = await wait_for_status(mid)
    assert text_of(after, mid) == answer.content  # nothing lost, nothing repeated
    await second.disconnect()


async def test_anonymous_and_other_users_are_refused(member, outsider) -> None:
    conv = await sync_to_async(Conversation.objects.create)(user=member)
    comm, connected, _ = await open_socket(conv.pk, None)
    assert (await comm.receive_output(timeout=5))["code"] == consumers.CLOSE_UNAUTHENTICATED
    comm, connected, _ = await open_socket(conv.pk, await cookie_for(outsider))
    assert (await comm.receive_output(timeout=5))["code"] == consumers.CLOSE_NOT_FOUND
    # A page from another site cannot open the socket even with the user's cookie.
    comm, connected, _ = await open_socket(
        conv.pk, await cookie_for(member), origin=(b"origin", b"https://evil.example")
    )
    assert not connected


async def test_limits_answer_with_a_clear_message(
    vllm: str, member, member_conversation: Conversation, settings: Any
) -> None:
    settings.LLM_USER_MAX_STREAMS = 1
    settings.LLM_USER_REQUESTS_PER_MINUTE = 3
    other = await sync_to_async(Conversation.objects.create)(user=member, knowledge=False)
    cookie = await cookie_for(member)
    one, _, _ = await open_socket(member_conversation.pk, cookie)
    two, _, _ = await open_socket(other.pk, cookie)
    await one.send_json_to({"type": "send", "text": QUESTION, "knowledge": False})
    await frames_until(one, "delta", seq=1)
    await two.send_json_to({"type": "send", "text": "And nodes?", "knowledge": False})
    busy = await frames_until(two, "error")
    assert busy[-1]["code"] == "too_many_streams"
    assert "уже пишется" in busy[-1]["message"]
    await two.send_json_to({"type": "send", "text": "And disks?", "knowledge": False})
    await frames_until(two, "error", code="too_many_streams")
    await two.send_json_to({"type": "send", "text": "And network?", "knowledge": False})
    limited = await frames_until(two, "error")
    assert limited[-1]["code"] == "rate_limited" and "за минуту" in limited[-1]["message"]
    await one.send_json_to({"type": "stop"})
    await frames_until(one, "done")
    await one.disconnect()
    await two.disconnect()


async def test_a_second_question_while_one_is_answered_is_refused_and_called_off(
    vllm: str, member, member_conversation: Conversation, short_answers: None
) -> None:
    """The model request starts while the question is stored; a question the conversation
    cannot take (one answer at a time) is refused, and its request is called off."""
    from apps.inference.models import LLMCall

    comm, _, _ = await open_socket(member_conversation.pk, await cookie_for(member))
    await comm.send_json_to({"type": "send", "text": QUESTION, "knowledge": False})
    await frames_until(comm, "delta", seq=1)
    await comm.send_json_to({"type": "send", "text": "And nodes?", "knowledge": False})
    refused = await frames_until(comm, "error")
    assert refused[-1]["code"] == "invalid" and "пишется" in refused[-1]["message"]
    frames = refused + await frames_until(comm, "done")
    assert frames[-1]["status"] == "complete"
    await comm.disconnect()
    stored = Message.objects.filter(conversation=member_conversation)
    rows = [row async for row in stored.values_list("role", "content")]
    assert [role for role, _ in rows] == ["user", "assistant"] and rows[0][1] == QUESTION
    # Its request was called off, whether it had reached the model yet (then it is recorded
    # as cancelled) or not (then nothing is recorded); nothing keeps running on the server.
    deadline = time.monotonic() + 30
    while running(vllm) > 0:
        assert time.monotonic() < deadline, "a request is still running on the model server"
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)  # the last call's row is written just after its stream ends
    outcomes = sorted([o async for o in LLMCall.objects.values_list("outcome", flat=True)])
    assert outcomes in (["complete"], ["cancelled", "complete"]), outcomes


async def test_heartbeat_and_unknown_events(
    member, member_conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.inference import sockets

    monkeypatch.setattr(sockets, "HEARTBEAT_SECONDS", 0.2)
    comm, _, _ = await open_socket(member_conversation.pk, await cookie_for(member))
    assert (await comm.receive_json_from(timeout=3))["type"] == "ping"
    await comm.send_json_to({"type": "pong"})
    await comm.send_json_to({"type": "explode"})
    error = await frames_until(comm, "error", timeout=5)
    assert error[-1]["code"] == "bad_event"
    await comm.send_json_to({"type": "send", "text": "   "})
    empty = await frames_until(comm, "error", timeout=5)
    assert empty[-1]["code"] == "invalid" and "пуст" in empty[-1]["message"]
    await comm.disconnect()


async def test_no_reachable_model_fails_the_answer_with_the_reason(
    member, member_conversation: Conversation
) -> None:
    from apps.inference.backends import sync_from_settings
    from apps.inference.models import Backend

    # Only the backend on a closed port is left: the gateway cannot reach any model.
    await sync_to_async(sync_from_settings)()
    await sync_to_async(Backend.objects.exclude(name="dead-fast").update)(enabled=False)
    comm, _, _ = await open_socket(member_conversation.pk, await cookie_for(member))
    await comm.send_json_to({"type": "send", "text": QUESTION, "tier": "fast", "knowledge": False})
    frames = await frames_until(comm, "done", timeout=60)
    answer = await sync_to_async(Message.objects.get)(pk=answer_id(frames))
    assert answer.status == Message.Status.FAILED and frames[-1]["status"] == "failed"
    assert "dead-fast" in answer.error and "Ошибка:" in frames[-1]["html"]
    # The stream slot was given back: the next question is not refused as "too many".
    await comm.send_json_to({"type": "send", "text": "Again?", "knowledge": False})
    again = await frames_until(comm, "done", timeout=60)
    assert not any(f["type"] == "error" for f in again)
    await comm.disconnect()


async def test_a_knowledge_search_that_fails_fails_the_answer_with_what_to_do(
    member,
    member_conversation: Conversation,
    monkeypatch: pytest.MonkeyPatch,
    short_answers: None,
) -> None:
    from apps.knowledge.search import answering

    real = answering.ground

    def broken(*args: Any, knowledge: bool = True, **kwargs: Any) -> Any:
        if knowledge:
            raise OSError("the index is on a disk that went away")
        return real(*args, knowledge=knowledge, **kwargs)

    monkeypatch.setattr(answering, "ground", broken)
    comm, _, _ = await open_socket(member_conversation.pk, await cookie_for(member))
    await comm.send_json_to({"type": "send", "text": QUESTION, "tier": "fast", "knowledge": True})
    frames = await frames_until(comm, "done", timeout=60)
    answer = await sync_to_async(Message.objects.get)(pk=answer_id(frames))
    assert answer.status == Message.Status.FAILED and frames[-1]["status"] == "failed"
    assert "Не удалось выполнить поиск по базе знаний" in frames[-1]["html"]
    assert "disk" not in frames[-1]["html"]  # the cause is logged, not shown
    # The slot was given back, and without the knowledge base the model answers.
    await comm.send_json_to({"type": "send", "text": "Again?", "knowledge": False})
    again = await frames_until(comm, "done", timeout=120)
    assert not any(f["type"] == "error" for f in again)
    await comm.disconnect()


def streamed_words(sse: bytes) -> int:
    """Words of answer text in the complete SSE events of an OpenAI-style stream so far."""
    words = ""
    for event in sse.split(b"\n\n")[:-1]:
        try:  # an event split across two HTTP chunks does not parse; its words go uncounted
            choices = json.loads(event.partition(b"data: ")[2]).get("choices", [])
        except ValueError:
            continue
        for choice in choices:
            words += (choice.get("delta") or {}).get("content") or ""
    return len(words.split())


async def test_a_connection_lost_mid_answer_keeps_the_text_marked_interrupted(
    vllm: str, member, member_conversation: Conversation
) -> None:
    """The model's connection drops mid-answer (a TCP relay that cuts it)."""
    from apps.inference.backends import sync_from_settings
    from apps.inference.models import Backend

    host, port = vllm.removeprefix("http://").split(":")
    # Cut once the answer is past the opening the echo guard judges (guard.OPENING_WORDS): a
    # cut within it would leave only an opening too short to tell from the question.
    cut_after = 40

    async def cutting_relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))

        async def forward() -> None:
            while chunk := await reader.read(65536):
                up_writer.write(chunk)
                await up_writer.drain()

        forwarding = asyncio.create_task(forward())
        passed = b""
        while chunk := await up_reader.read(256):
            if b'"finish_reason":"' in passed[-32:] + chunk:
                break  # a short answer is still cut before its end
            writer.write(chunk)
            await writer.drain()
            passed += chunk
            if streamed_words(passed.partition(b"\r\n\r\n")[2]) >= cut_after:
                break
        forwarding.cancel()
        writer.transport.abort()
        up_writer.transport.abort()

    relay = await asyncio.start_server(cutting_relay, "127.0.0.1", 0)
    relay_port = relay.sockets[0].getsockname()[1]
    await sync_to_async(sync_from_settings)()
    await sync_to_async(Backend.objects.filter(tier="fast").update)(enabled=False)
    await sync_to_async(Backend.objects.create)(
        name="cut-fast", url=f"http://127.0.0.1:{relay_port}/v1", model="gemma-3-270m", tier="fast"
    )
    try:
        comm, _, _ = await open_socket(member_conversation.pk, await cookie_for(member))
        await comm.send_json_to(
            {"type": "send", "text": QUESTION, "tier": "fast", "knowledge": False}
        )
        frames = await frames_until(comm, "done", timeout=60)
    finally:
        relay.close()
    answer = await sync_to_async(Message.objects.get)(pk=answer_id(frames))
    assert answer.status == Message.Status.INTERRUPTED and frames[-1]["status"] == "interrupted"
    assert answer.content and answer.content == text_of(frames, answer.pk)
    assert "cut-fast stopped mid-answer" in answer.error
    assert "Прервано:" in frames[-1]["html"] and "cut-fast" in frames[-1]["html"]
    await comm.disconnect()


async def test_resync_of_a_finished_answer_sends_its_final_block(
    member, outsider, member_conversation: Conversation
) -> None:
    done = await sync_to_async(Message.objects.create)(
        conversation=member_conversation, role="assistant", content="**Drain** the node.",
        status="complete", model="gemma-3-270m",
    )  # fmt: skip
    foreign_conv = await sync_to_async(Conversation.objects.create)(user=outsider)
    foreign = await sync_to_async(Message.objects.create)(
        conversation=foreign_conv, role="assistant", content="secret", status="complete"
    )
    comm, _, _ = await open_socket(member_conversation.pk, await cookie_for(member))
    await comm.send_json_to({"type": "resync", "message_id": foreign.pk})
    await comm.send_json_to({"type": "resync", "message_id": done.pk})
    frame = await comm.receive_json_from(timeout=5)
    # Only this conversation's answer comes back: another user's id gives nothing.
    assert frame["type"] == "done" and frame["message_id"] == done.pk
    assert "<strong>Drain</strong>" in frame["html"] and "secret" not in frame["html"]
    await comm.disconnect()


async def test_answers_from_the_knowledge_base_cite_only_what_the_reader_may_see(
    vllm: str, member, knowledge_base: None, short_answers: None
) -> None:
    # `member` is in sre, not secops: the break-glass page must neither feed nor cite.
    conv = await sync_to_async(Conversation.objects.create)(user=member, knowledge=True)
    comm, connected, _ = await open_socket(conv.pk, await cookie_for(member))
    assert connected
    question = "How do I fix Kafka consumer lag on the billing topic?"
    await comm.send_json_to({"type": "send", "text": question, "tier": "fast", "knowledge": True})
    frames = await frames_until(comm, "done")
    await comm.disconnect()
    answer = await sync_to_async(Message.objects.get)(pk=answer_id(frames))
    assert answer.status == Message.Status.COMPLETE
    assert [c["title"] for c in answer.citations] == ["Kafka consumer lag"]
    assert answer.citations[0]["source"] == "runbooks"
    done = frames[-1]["html"]
    assert 'class="citations"' in done and "Kafka consumer lag" in done
    assert "Break-glass" not in done and "kafka-root" not in str(frames)
    # The chunk went into the prompt: far more prompt tokens than the question alone.
    assert answer.prompt_tokens and answer.prompt_tokens > 60
