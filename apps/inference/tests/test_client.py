"""The streaming client against the real dev vLLM server and a dead backend on a closed port."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from prometheus_client import REGISTRY

from apps.inference import client, limits
from apps.inference.backends import sync_from_settings
from apps.inference.models import Backend, LLMCall
from apps.inference.tests.conftest import vllm_sample
from common.testing import DEV_MODEL_ATTEMPTS

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = [{"role": "user", "content": "Continue the list: Monday, Tuesday, Wednesday,"}]


def _counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _collect(**kwargs: Any) -> list[Any]:
    return [event async for event in client.stream(PROMPT, **kwargs)]


async def test_stream_yields_tokens_and_records_the_call(vllm: str) -> None:
    user = await User.objects.acreate(username="streamer")
    before = _counter("opsdesk_llm_calls_total", backend="cpu-live", outcome="complete")
    async with limits.slot(user) as held:
        events = await _collect(tier="fast", slot=held, purpose="test", max_tokens=24)

    start, *tokens, end = events
    assert end["call_id"] is not None
    assert start["type"] == "start" and start["backend"] in ("cpu-live", "dead-fast")
    assert start["tier"] == "fast" and start["fell_back"] is False
    assert start["model"] == "gemma-3-270m"
    assert len(tokens) > 1 and all(e["type"] == "token" and e["text"] for e in tokens)
    assert end["type"] == "end" and end["outcome"] == "complete", end
    assert end["backend"] == "cpu-live" and end["error"] == ""
    assert end["completion_tokens"] >= len(tokens) - 1 and end["prompt_tokens"] > 5
    assert end["ttft_s"] is not None and 0 < end["ttft_s"] < 30
    assert end["tokens_per_s"] is not None and end["tokens_per_s"] > 0

    row = await LLMCall.objects.aget(pk=end["call_id"])
    assert (row.user_id, row.backend, row.model, row.tier) == (
        user.pk,
        "cpu-live",
        "gemma-3-270m",
        "fast",
    )
    assert row.outcome == "complete" and row.purpose == "test"
    assert row.completion_tokens == end["completion_tokens"] and row.ttft_s == end["ttft_s"]
    assert row.finished >= row.started
    after = _counter("opsdesk_llm_calls_total", backend="cpu-live", outcome="complete")
    assert after == before + 1
    assert _counter("opsdesk_llm_time_to_first_token_seconds_count", model="gemma-3-270m") >= 1


async def test_a_paced_stream_reads_in_batches_and_loses_nothing(vllm: str) -> None:
    # The chat reads at its frame pace; the server's tokens wait in the socket meanwhile.
    def text(events: list[Any]) -> str:
        return "".join(e["text"] for e in events if e["type"] == "token")

    args = {"tier": "fast", "max_tokens": 40, "temperature": 0.0}
    # Temperature 0 repeats an answer only on the same arithmetic: an answer batched with
    # another request (one an earlier test left running), or the first to compute a prompt
    # that later ones find cached, can round differently and pick another token late in the
    # answer. So the server is idle, and both compared answers come after a first one.
    deadline = time.monotonic() + 120
    while vllm_sample(vllm, "vllm:num_requests_running") > 0:
        assert time.monotonic() < deadline, "the dev model server never became idle"
        await asyncio.sleep(0.5)
    await _collect(**args)
    every = await _collect(**args)
    paced = await _collect(**args, pace=lambda: 0.5)
    assert paced[-1]["outcome"] == "complete" and every[-1]["outcome"] == "complete"
    assert text(paced) == text(every) and text(paced).strip()
    tokens = paced[-1]["completion_tokens"]
    batches = [e for e in paced if e["type"] == "token"]
    assert 1 < len(batches) < tokens / 2, (len(batches), tokens)  # several tokens per read


async def test_complete_returns_the_whole_text(vllm: str) -> None:
    result = await client.complete(PROMPT, tier="heavy", max_tokens=16)
    assert result.outcome == "complete", result.error
    assert result.backend == "cpu-heavy" and result.tier == "heavy"
    assert result.text.strip() and result.completion_tokens > 1
    assert await LLMCall.objects.filter(pk=result.call_id or 0, outcome="complete").aexists()


async def test_cancel_closes_the_upstream_request(vllm: str) -> None:
    """Stop pressed mid-answer: vLLM stops generating and the call is recorded cancelled."""
    baseline = vllm_sample(vllm, "vllm:num_requests_running")

    async def first_tokens() -> tuple[asyncio.Task[None], int]:
        """A long answer started; its task once 3 tokens are shown, or when it ended first."""
        tokens = 0
        got_tokens = asyncio.Event()

        async def consume() -> None:
            nonlocal tokens
            # 1,500 tokens at ~25 tokens/s keep the server busy for a minute if not aborted.
            async for event in client.stream(PROMPT, tier="fast", max_tokens=1500, purpose="test"):
                if event["type"] == "token":
                    tokens += 1
                    if tokens == 3:
                        got_tokens.set()

        task = asyncio.create_task(consume())
        shown = asyncio.create_task(got_tokens.wait())
        await asyncio.wait({task, shown}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        shown.cancel()
        return task, tokens

    # The dev model sometimes starts the list again ("Monday, Tuesday, …"): the echo guard
    # judges that a copy of the prompt and ends the answer before 3 tokens are shown. Only
    # then ask again; an answer that never starts, or a cancel that does not stop, fails.
    for _attempt in range(DEV_MODEL_ATTEMPTS):
        task, tokens = await first_tokens()
        if not (task.done() and tokens < 3):
            break
        await LLMCall.objects.all().adelete()  # this test's calls: one row is checked below
    assert tokens >= 3, f"no answer was shown within 60 s ({tokens} tokens)"
    assert vllm_sample(vllm, "vllm:num_requests_running") >= baseline + 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    row = await LLMCall.objects.aget()
    assert row.outcome == "cancelled" and row.backend == "cpu-live"
    assert row.completion_tokens >= 3 and row.ttft_s is not None
    assert row.error == "cancelled by the caller"

    # Other suites may share this server, so compare with what ran before ours started.
    deadline = time.monotonic() + 10
    running = baseline + 1
    while time.monotonic() < deadline and running > baseline:
        await asyncio.sleep(0.25)
        running = vllm_sample(vllm, "vllm:num_requests_running")
    assert running <= baseline, "vLLM kept generating the cancelled answer"


async def test_closing_the_generator_is_a_cancel_too(vllm: str) -> None:
    events = client.stream(PROMPT, tier="fast", max_tokens=1500)
    async with aclosing(events):
        async for event in events:
            if event["type"] == "token":
                break
    assert await LLMCall.objects.filter(outcome="cancelled").acount() == 1


async def test_failover_from_a_dead_backend_before_the_first_token(vllm: str) -> None:
    """dead-fast (closed port) and cpu-live share the fast tier; every request succeeds."""
    # Hold one stream open on cpu-live: the router then prefers the idle-looking dead-fast,
    # as it would for a replica that died after the last health poll.
    held = client.stream(PROMPT, tier="fast", max_tokens=200)
    async with aclosing(held):
        start = await anext(held)
        assert start["type"] == "start" and start["backend"] == "cpu-live"
        result = await client.complete(PROMPT, tier="fast", max_tokens=8)
    assert result.outcome == "complete" and result.backend == "cpu-live"
    row = await LLMCall.objects.aget(pk=result.call_id or 0)
    assert row.failed_attempts and row.failed_attempts[0]["backend"] == "dead-fast"
    assert "refused" in row.failed_attempts[0]["error"].lower()

    results = [await client.complete(PROMPT, tier="fast", max_tokens=8) for _ in range(5)]
    assert [r.outcome for r in results] == ["complete"] * 5
    assert {r.backend for r in results} == {"cpu-live"}


async def test_fallback_to_the_other_tier_is_reported(vllm: str) -> None:
    await sync_to_async(sync_from_settings)()
    await Backend.objects.filter(name="cpu-live").aupdate(enabled=False)
    events = await _collect(tier="fast", max_tokens=8)
    start, end = events[0], events[-1]
    assert start["type"] == "start" and start["backend"] == "cpu-heavy"
    assert start["fell_back"] is True and start["tier"] == "heavy"
    assert start["requested_tier"] == "fast"
    assert end["outcome"] == "complete"
    row = await LLMCall.objects.aget(pk=end["call_id"])
    assert row.fell_back and row.tier == "heavy" and row.requested_tier == "fast"


async def test_no_reachable_backend_gives_one_failed_end_event(vllm: str) -> None:
    await sync_to_async(sync_from_settings)()
    await Backend.objects.exclude(name="dead-fast").aupdate(enabled=False)
    events = await _collect(tier="auto", max_tokens=8)
    assert len(events) == 1
    end = events[0]
    assert end["type"] == "end" and end["outcome"] == "failed"
    assert "dead-fast" in end["error"] and "refused" in end["error"].lower()
    assert await LLMCall.objects.filter(pk=end["call_id"], outcome="failed").aexists()

    # A second failure puts the dead backend in cool-down: it is not even tried then.
    await _collect(tier="fast", max_tokens=8)
    events = await _collect(tier="fast", max_tokens=8)
    assert "cool-down" in events[0]["error"]


async def test_request_the_model_cannot_take_fails_without_retrying(vllm: str) -> None:
    """A prompt longer than the model's context is refused (HTTP 400) the same everywhere."""
    too_long = [{"role": "user", "content": "word " * 5000}]
    result = await client.complete(too_long, tier="fast", max_tokens=8)
    assert result.outcome == "failed" and "HTTP 400" in result.error
    row = await LLMCall.objects.aget(pk=result.call_id or 0)
    assert row.failed_attempts == [] or row.failed_attempts[0]["backend"] == "dead-fast"


async def test_unknown_tier_is_a_clear_failure() -> None:
    events = await _collect(tier="huge")
    assert len(events) == 1 and events[0]["type"] == "end"
    assert events[0]["outcome"] == "failed" and "unknown tier 'huge'" in events[0]["error"]


async def test_connection_lost_mid_answer_ends_interrupted(vllm: str) -> None:
    """A replica whose connection drops after a few tokens: the partial answer is marked."""
    host, port = vllm.removeprefix("http://").split(":")
    cut_after = 1200  # response bytes: the headers and a few SSE chunks

    async def relay(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        server_reader, server_writer = await asyncio.open_connection(host, int(port))

        async def upstream() -> None:
            while data := await client_reader.read(65536):
                server_writer.write(data)
                await server_writer.drain()

        pump = asyncio.create_task(upstream())
        sent = 0
        while sent < cut_after and (data := await server_reader.read(200)):
            client_writer.write(data)
            await client_writer.drain()
            sent += len(data)
        pump.cancel()
        for writer in (client_writer, server_writer):
            writer.transport.abort()

    proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
    proxy_port = proxy.sockets[0].getsockname()[1]
    await sync_to_async(sync_from_settings)()
    await Backend.objects.filter(tier="heavy").aupdate(enabled=False)
    await Backend.objects.acreate(
        name="flaky-heavy",
        url=f"http://127.0.0.1:{proxy_port}/v1",
        model="gemma-3-270m",
        tier="heavy",
    )
    try:
        events = await _collect(tier="heavy", max_tokens=300)
    finally:
        proxy.close()
    start, *tokens, end = events
    assert start["backend"] == "flaky-heavy" and tokens
    assert end["outcome"] == "interrupted", end
    assert end["error"].startswith("flaky-heavy stopped mid-answer: connection lost: ")
    row = await LLMCall.objects.aget(pk=end["call_id"])
    # A token event holds what one read brought: one chunk or, when several arrived, more.
    assert row.outcome == "interrupted" and row.completion_tokens >= len(tokens)


OVERLOADED = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Content-Length: 36\r\nConnection: close\r\n\r\n"
    b'{"error": {"message": "overloaded"}}'
)


@pytest.mark.parametrize(
    ("reply", "reason"), [(None, "timed out"), (OVERLOADED, "HTTP 503: overloaded")]
)
async def test_a_replica_that_hangs_or_refuses_gives_way_to_the_next(
    vllm: str, settings: Any, reply: bytes | None, reason: str
) -> None:
    """A replica that accepts connections and then says nothing (or answers 503) before the
    first token: the call moves on, and the row says why."""
    settings.LLM_READ_TIMEOUT = 3.0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        if reply is not None:
            writer.write(reply)
            await writer.drain()
        await asyncio.sleep(10)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    await sync_to_async(sync_from_settings)()
    await Backend.objects.filter(tier="fast").aupdate(enabled=False)
    await Backend.objects.acreate(
        name="stuck-fast", url=f"http://127.0.0.1:{port}/v1", model="gemma-3-270m", tier="fast"
    )
    try:
        started = time.monotonic()
        result = await client.complete(PROMPT, tier="fast", max_tokens=8)
    finally:
        server.close()
    assert result.outcome == "complete" and result.backend == "cpu-heavy" and result.fell_back
    assert time.monotonic() - started < 30
    row = await LLMCall.objects.aget(pk=result.call_id or 0)
    assert row.failed_attempts == [{"backend": "stuck-fast", "error": reason}]


SSE_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    b'data: {"choices":[{"index":0,"delta":{"content":"pong"},"finish_reason":null}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\n'
    b"data: [DONE]\n\n"
)


@pytest.mark.parametrize("shared", [True, False])
async def test_a_kept_alive_connection_closed_under_the_request_is_retried_once(
    shared: bool,
) -> None:
    """The ASGI process keeps connections to model servers alive; a server (or a proxy with
    a shorter keep-alive) may close one just as a request goes out. That request is sent
    once more; with a connection of its own, the same close is the backend's failure."""
    from apps.inference import upstream

    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read(65536)
        if connections > 1:
            writer.write(SSE_ANSWER)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    await Backend.objects.all().aupdate(enabled=False)
    await Backend.objects.acreate(
        name="edgy-fast", url=f"http://127.0.0.1:{port}/v1", model="synthetic", tier="fast"
    )
    if shared:
        upstream.open_shared()
    try:
        result = await client.complete(PROMPT, tier="fast", max_tokens=8)
    finally:
        await upstream.close_shared()
        server.close()
    if shared:
        assert result.outcome == "complete" and result.text == "pong" and connections == 2
        row = await LLMCall.objects.aget(pk=result.call_id or 0)
        assert row.failed_attempts == [] and row.completion_tokens == 1
    else:
        assert result.outcome == "failed" and connections == 1
        assert "edgy-fast" in result.error and "connection lost" in result.error
