"""The OpenAI-compatible endpoint, against the real dev vLLM server.

Most tests go through Django's ASGI handler (AsyncClient); one runs the portal under uvicorn
and talks to it with the official `openai` client, as an IDE plugin or a script would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.test import AsyncClient

from apps.accounts.tokens import create_token, revoke_token
from apps.inference.models import Backend, LLMCall
from common.testing import DEV_MODEL_ATTEMPTS, database_url
from common.testing import free_port as _free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_engines]

URL = "/v1/chat/completions"
ASK = [{"role": "user", "content": "Continue the list: Monday, Tuesday, Wednesday,"}]


@pytest.fixture
async def token() -> tuple[User, str]:
    user = await User.objects.acreate(username="scripter")
    _row, raw = await sync_to_async(create_token)(user, "ci")
    return user, raw


def _auth(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


async def _post(raw: str | None, body: Any) -> Any:
    headers = _auth(raw) if raw else {}
    data = body if isinstance(body, str) else json.dumps(body)
    return await AsyncClient().post(URL, data, content_type="application/json", headers=headers)


def _error(response: Any) -> dict[str, Any]:
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


async def test_missing_or_revoked_token_is_401(token: tuple[User, str]) -> None:
    user, raw = token
    response = await _post(None, {"model": "auto", "messages": ASK})
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert _error(response)["code"] == "invalid_api_key"
    assert (await _post("odk_not-a-real-token", {"messages": ASK})).status_code == 401
    basic = await AsyncClient().get("/v1/models", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401

    row = await user.api_tokens.aget()
    assert await sync_to_async(revoke_token)(user, row.pk)
    response = await _post(raw, {"model": "auto", "messages": ASK})
    assert response.status_code == 401 and _error(response)["type"] == "authentication_error"
    assert not await LLMCall.objects.aexists()


async def test_wrong_method_is_405(token: tuple[User, str]) -> None:
    _user, raw = token
    response = await AsyncClient().get(URL, headers=_auth(raw))
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert _error(response)["code"] == "method_not_allowed"
    response = await AsyncClient().post("/v1/models", headers=_auth(raw))
    assert response.status_code == 405 and response["Allow"] == "GET"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ("{not json", None),
        ("[1, 2]", None),
        ({"model": "auto"}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": {"x": 1}}]}, "messages.0.content"),
        ({"messages": [{"role": "system", "content": "only rules"}]}, "messages"),
        ({"messages": ASK, "max_tokens": 0}, "max_tokens"),
        ({"messages": ASK, "temperature": "hot"}, "temperature"),
        ({"messages": ASK, "stream": "yes"}, "stream"),
    ],
)
async def test_malformed_requests_are_400(
    token: tuple[User, str], body: Any, param: str | None
) -> None:
    _user, raw = token
    response = await _post(raw, body)
    assert response.status_code == 400
    error = _error(response)
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert error["message"]


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000,  # recursed past Python's limit: a 500 HTML page
        '{"messages": [{"role": "user", "content": "hi", "x": ' + "[" * 200 + "]" * 200 + "}]}",
        '{"messages": "' + "[" * 100_000 + '"}',  # brackets inside a string are text
    ],
)
async def test_deeply_nested_json_is_400_in_openais_format(
    token: tuple[User, str], body: str
) -> None:
    _user, raw = token
    response = await _post(raw, body)
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    error = _error(response)
    assert error["type"] == "invalid_request_error"
    if body.startswith('{"messages": "'):
        assert error["param"] == "messages"  # parsed: a string where a list belongs
    else:
        assert "nests deeper than 64 levels" in error["message"]
    assert not await LLMCall.objects.aexists()


async def test_unknown_model_is_404(token: tuple[User, str]) -> None:
    _user, raw = token
    response = await _post(raw, {"model": "gpt-9", "messages": ASK})
    assert response.status_code == 404 and _error(response)["code"] == "model_not_found"


async def test_models_lists_tiers_and_served_models(token: tuple[User, str]) -> None:
    _user, raw = token
    response = await AsyncClient().get("/v1/models", headers=_auth(raw))
    assert response.status_code == 200
    ids = [m["id"] for m in response.json()["data"]]
    assert ids == ["auto", "fast", "heavy", "knowledge", "gemma-3-270m"]
    gemma = response.json()["data"][-1]
    assert gemma["object"] == "model" and gemma["x_opsdesk_tiers"] == ["fast", "heavy"]


async def test_streams_sse_chunks_ending_with_done(vllm: str, token: tuple[User, str]) -> None:
    user, raw = token
    body = {
        "model": "heavy",
        "messages": ASK,
        "stream": True,
        "max_tokens": 24,
        "stream_options": {"include_usage": True},
    }
    response = await _post(raw, body)
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    assert response["X-Accel-Buffering"] == "no"
    raw_body = b"".join([part async for part in response.streaming_content]).decode()
    events = [e for e in raw_body.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events if e.startswith("data: {")]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["model"] == "gemma-3-270m"
    words = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert len([w for w in words if w]) > 1
    assert chunks[-2]["choices"][0]["finish_reason"] in ("stop", "length")
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 1
    gateway = next(e for e in events if e.startswith(": x_opsdesk "))
    assert json.loads(gateway.removeprefix(": x_opsdesk "))["backend"] == "cpu-heavy"

    call = await LLMCall.objects.aget()
    assert call.user_id == user.pk and call.purpose == "api" and call.outcome == "complete"
    assert (
        call.tier == "heavy" and call.completion_tokens == chunks[-1]["usage"]["completion_tokens"]
    )


async def test_non_streaming_answer(vllm: str, token: tuple[User, str]) -> None:
    _user, raw = token
    response = await _post(raw, {"model": "gemma-3-270m", "messages": ASK, "max_tokens": 16})
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "gemma-3-270m"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["message"]["content"].strip()
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )
    assert body["x_opsdesk"]["backend"] in ("cpu-live", "cpu-heavy")


async def test_no_reachable_backend_is_503(vllm: str, token: tuple[User, str]) -> None:
    _user, raw = token
    await AsyncClient().get("/v1/models", headers=_auth(raw))  # seeds backends from settings
    await Backend.objects.exclude(name="dead-fast").aupdate(enabled=False)
    response = await _post(raw, {"model": "fast", "messages": ASK, "stream": True})
    assert response.status_code == 503
    error = _error(response)
    assert error["type"] == "server_error" and "dead-fast" in error["message"]


async def test_a_prompt_longer_than_the_context_is_400_context_length_exceeded(
    vllm: str, token: tuple[User, str]
) -> None:
    user, raw = token
    await AsyncClient().get("/v1/models", headers=_auth(raw))  # seeds backends from settings
    # Only the live fast backend: whether an unreachable one is tried first depends on the
    # load the poller last saw, and its connection error is a real failed attempt.
    await Backend.objects.filter(name="dead-fast").aupdate(enabled=False)
    long = [{"role": "user", "content": "word " * 5000}]  # the dev model reads 4,096 tokens
    for stream in (False, True):
        response = await _post(raw, {"model": "fast", "messages": long, "stream": stream})
        assert response.status_code == 400
        error = _error(response)
        assert error["code"] == "context_length_exceeded" and error["param"] == "messages"
        assert error["type"] == "invalid_request_error"
        assert "maximum context length is 4096 tokens" in error["message"]
    # Not a backend failure: nothing was tried elsewhere, no backend was marked down.
    call = await LLMCall.objects.filter(user=user).alatest("started")
    assert call.outcome == "failed" and call.failed_attempts == []
    # The OpenAI SDK raises BadRequestError at once instead of retrying a 5xx.
    api = openai.AsyncOpenAI(
        base_url="http://testserver/v1",
        api_key=raw,
        max_retries=2,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=_asgi())),  # type: ignore[arg-type]
    )
    with pytest.raises(openai.BadRequestError) as refused:
        await api.chat.completions.create(model="fast", messages=long)  # type: ignore[arg-type]
    assert refused.value.code == "context_length_exceeded"
    assert await LLMCall.objects.filter(user=user).acount() == 3  # no retries
    await api.close()


def _asgi() -> Any:
    from portal.asgi import application

    return application


async def test_per_minute_limit_is_429(vllm: str, token: tuple[User, str], settings: Any) -> None:
    _user, raw = token
    settings.LLM_USER_REQUESTS_PER_MINUTE = 1
    first = await _post(raw, {"model": "heavy", "messages": ASK, "max_tokens": 4})
    second = await _post(raw, {"model": "heavy", "messages": ASK, "max_tokens": 4})
    assert first.status_code == 200
    assert second.status_code == 429 and int(second["Retry-After"]) > 0
    assert _error(second)["code"] == "rate_limit_exceeded"


@pytest.fixture
def portal_server(vllm: str) -> Iterator[str]:
    """The portal under uvicorn, on the test database (committed rows are visible to it)."""
    port = _free_port()
    root = Path(settings.BASE_DIR)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "LLM_POLL_IN_WEB": "false",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if server.poll() is not None:
                    pytest.fail(server.stderr.read().decode() if server.stderr else "exited")
                time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)


async def test_openai_client_streams_through_the_portal(
    portal_server: str, token: tuple[User, str]
) -> None:
    user, raw = token
    api = openai.AsyncOpenAI(base_url=f"{portal_server}/v1", api_key=raw, max_retries=0)
    models = [m.id async for m in api.models.list()]
    assert "auto" in models and "gemma-3-270m" in models

    messages: Any = ASK
    # The dev model sometimes starts the list again, which the echo guard withholds: only
    # then ask again.
    for _attempt in range(DEV_MODEL_ATTEMPTS):
        stream = await api.chat.completions.create(
            model="auto", messages=messages, stream=True, max_tokens=24
        )
        pieces = [c.choices[0].delta.content async for c in stream if c.choices]
        words = [p for p in pieces if p and p.strip()]
        if len(words) > 1:
            break
    assert len(words) > 1, pieces

    row = await user.api_tokens.aget()
    await sync_to_async(revoke_token)(user, row.pk)
    with pytest.raises(openai.AuthenticationError):
        await api.chat.completions.create(model="auto", messages=messages)
    await api.close()


QUESTION = [{"role": "user", "content": "How do I fix Kafka consumer lag on the billing topic?"}]


async def test_knowledge_answers_cite_only_readable_sources(
    vllm: str, knowledge_base: None, token: tuple[User, str]
) -> None:
    _user, raw = token
    body = {"messages": QUESTION, "x_opsdesk_knowledge": True, "max_tokens": 24}
    response = await _post(raw, {**body, "model": "fast"})
    assert response.status_code == 200, response.content
    citations = response.json()["x_opsdesk_citations"]
    assert [c["title"] for c in citations] == ["Kafka consumer lag"]
    assert citations[0]["n"] == 1 and citations[0]["source"] == "runbooks"

    streamed = await _post(raw, {**body, "model": "knowledge", "stream": True})
    assert streamed.status_code == 200
    text = b"".join([part async for part in streamed.streaming_content]).decode()
    events = [e for e in text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    line = next(e for e in events if e.startswith(": x_opsdesk_citations "))
    sources = json.loads(line.removeprefix(": x_opsdesk_citations "))
    assert [c["title"] for c in sources] == ["Kafka consumer lag"]
    assert "kafka-root" not in text and "Break-glass" not in text


async def test_without_knowledge_nothing_is_retrieved(vllm: str, token: tuple[User, str]) -> None:
    _user, raw = token
    response = await _post(raw, {"model": "fast", "messages": QUESTION, "max_tokens": 4})
    assert response.status_code == 200 and response.json()["x_opsdesk_citations"] == []
    bad = await _post(raw, {"messages": QUESTION, "x_opsdesk_knowledge": "yes"})
    assert bad.status_code == 400 and _error(bad)["param"] == "x_opsdesk_knowledge"
