"""The portal as an OpenAI-compatible API: POST /v1/chat/completions and GET /v1/models.

Tools that speak this protocol (IDE plugins, curl, scripts) authenticate with a personal API
token (`Authorization: Bearer odk_...`) and get the portal's routing, failover and accounting.
`model` may be a tier ("auto", "fast", "heavy") or a served model name. Errors use OpenAI's
`{"error": {"message", "type", "param", "code"}}` shape so client libraries report them.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.accounts.tokens import user_for_authorization_header
from apps.inference import backends, client, guard, limits
from apps.inference.backends import REQUESTABLE
from apps.inference.models import AUTO
from apps.inference.prompts import Prompt
from apps.knowledge.search import answering, english
from common import dbconnections, jsonsafe

log = logging.getLogger(__name__)

TIER_ALIASES = REQUESTABLE
# Answers from the knowledge base with citations; for tools that can only pick a model name.
KNOWLEDGE_MODEL = "knowledge"
MAX_TOKENS_LIMIT = 4096
DEFAULT_MAX_TOKENS = 512
ROLES = ("system", "user", "assistant")


class ApiError(Exception):
    """An error answered in OpenAI's format."""

    def __init__(
        self, status: int, message: str, kind: str = "invalid_request_error", **extra: Any
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind
        self.param: str | None = extra.get("param")
        self.code: str | None = extra.get("code")
        self.headers: dict[str, str] = extra.get("headers") or {}

    def response(self) -> JsonResponse:
        body = {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }
        response = JsonResponse(body, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def _with_allow(error: ApiError, allowed: str) -> JsonResponse:
    response = error.response()
    response["Allow"] = allowed
    return response


async def _authenticate(request: HttpRequest) -> Any:
    user = await sync_to_async(user_for_authorization_header)(request.headers.get("Authorization"))
    if user is None:
        raise ApiError(
            401,
            "Missing, unknown or revoked API token. Send 'Authorization: Bearer <token>'; "
            "create a token on your profile page.",
            kind="authentication_error",
            code="invalid_api_key",
            headers={"WWW-Authenticate": 'Bearer realm="opsdesk"'},
        )
    return user


def _content_text(content: Any, index: int) -> str:
    """A message's content as text: a string, or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise ApiError(
                    400, "Only text content parts are supported.", param=f"messages.{index}"
                )
            texts.append(str(part.get("text", "")))
        return "".join(texts)
    raise ApiError(400, "Message content must be a string.", param=f"messages.{index}.content")


def _messages(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "'messages' must be a non-empty list.", param="messages")
    messages = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise ApiError(400, "Each message must be an object.", param=f"messages.{index}")
        role = message.get("role")
        if role == "developer":  # the newer name of the system role
            role = "system"
        if role not in ROLES:
            raise ApiError(
                400,
                f"Message role must be one of {', '.join(ROLES)}; got {role!r}.",
                param=f"messages.{index}.role",
            )
        messages.append({"role": role, "content": _content_text(message.get("content"), index)})
    if not any(m["role"] == "user" for m in messages):
        raise ApiError(400, "At least one message must come from the user.", param="messages")
    return messages


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ApiError(400, f"'{name}' must be a number from {low:g} to {high:g}.", param=name)
    return value


def _tier_for_model(model: str) -> str:
    """A tier alias as is; a served model name -> the tier serving it ("auto" if both do)."""
    if model in TIER_ALIASES:
        return model
    if model == KNOWLEDGE_MODEL:
        return AUTO
    tiers = {b.tier for b in backends.load(enabled_only=True) if b.model == model}
    if not tiers:
        raise ApiError(
            404,
            f"The model '{model}' does not exist here; GET /v1/models lists the choices.",
            param="model",
            code="model_not_found",
        )
    return tiers.pop() if len(tiers) == 1 else AUTO


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ApiError(400, f"'{name}' must be true or false.", param=name)
    return value


def _grounded(user: Any, messages: list[dict[str, str]], max_tokens: int) -> answering.Grounding:
    """The grounded-answer service's prompt for the last user message, and its sources.

    The client's own system messages are left out: the grounding rules (answer from the
    numbered sources, treat them as data) must be the only instructions.
    """
    last = max(i for i, m in enumerate(messages) if m["role"] == "user")
    history = [m for m in messages[:last] if m["role"] in ("user", "assistant")]
    return answering.ground(user, messages[last]["content"], history, max_tokens=max_tokens)


def _last_question(messages: list[dict[str, str]]) -> str:
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


def _parse(request: HttpRequest) -> dict[str, Any]:
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(413, "The request body is too large.") from None
    try:
        body = jsonsafe.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"The body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object.")
    model = body.get("model") or AUTO
    if not isinstance(model, str):
        raise ApiError(400, "'model' must be a string.", param="model")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false.", param="stream")
    options = body.get("stream_options") or {}
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    return {
        "messages": _messages(body.get("messages")),
        "model": model,
        "stream": stream,
        "include_usage": bool(isinstance(options, dict) and options.get("include_usage")),
        "max_tokens": int(
            _number({"max_tokens": limit}, "max_tokens", DEFAULT_MAX_TOKENS, 1, MAX_TOKENS_LIMIT)
        ),
        "temperature": float(_number(body, "temperature", 0.2, 0, 2)),
        "knowledge": _flag(body, "x_opsdesk_knowledge", default=model == KNOWLEDGE_MODEL),
    }


def _usage(end: Any) -> dict[str, int]:
    prompt, completion = end["prompt_tokens"], end["completion_tokens"]
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _gateway(end: Any, fell_back: bool) -> dict[str, Any]:
    """How the portal served the call; extra fields that OpenAI clients ignore."""
    return {
        "backend": end["backend"],
        "tier": end["tier"],
        "fell_back": fell_back,
        "ttft_s": end["ttft_s"],
        "tokens_per_s": end["tokens_per_s"],
        "call_id": end["call_id"],
        "development": end["development"],
        "echo": end["echo"],
    }


def _withheld(end: Any) -> str:
    """The content of an answer the echo guard withheld (it repeated its prompt)."""
    return guard.NOTE if end["echo"] in guard.NO_ANSWER else ""


def _sse(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


async def _stream_body(
    events: AsyncGenerator[client.StreamEvent],
    start: Any,
    params: dict[str, Any],
    slot: limits.Slot,
) -> AsyncGenerator[bytes]:
    """SSE chunks in OpenAI's format, ending with `data: [DONE]`.

    A client that disconnects makes the server cancel this generator; closing `events` then
    closes the upstream request, and the call is recorded as cancelled.
    """
    ident = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = start["model"]

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return _sse(
            {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
        )

    try:
        async with aclosing(events):
            yield chunk({"role": "assistant", "content": ""})
            async for event in events:
                if event["type"] == "token":
                    yield chunk({"content": event["text"]})
                elif event["type"] == "end":
                    if _withheld(event):
                        yield chunk({"content": _withheld(event)})
                    if event["outcome"] == "complete":
                        yield chunk({}, event["finish_reason"] or "stop")
                    else:
                        error = {
                            "message": event["error"] or event["outcome"],
                            "type": "server_error",
                            "param": None,
                            "code": event["outcome"],
                        }
                        yield _sse({"error": error})
                    if params["include_usage"]:
                        yield _sse(
                            {
                                "id": ident,
                                "object": "chat.completion.chunk",
                                "created": created,
                                "model": model,
                                "choices": [],
                                "usage": _usage(event),
                            }
                        )
                    # A comment line: SSE parsers skip it, so strict OpenAI clients are safe.
                    gateway = json.dumps(_gateway(event, start["fell_back"]))
                    yield f": x_opsdesk {gateway}\n\n".encode()
                    if params["knowledge"]:
                        sources = json.dumps(params["citations"], ensure_ascii=False)
                        yield f": x_opsdesk_citations {sources}\n\n".encode()
            yield _sse("[DONE]")
    finally:
        await slot.release()


async def _take_slot(user: Any) -> limits.Slot:
    """The user's stream slot (the same limits as the chat page and the search answer)."""
    try:
        held = await limits.take(user)
    except limits.Refused as refused:
        if refused.limit == "rate":
            raise ApiError(
                429,
                "Too many requests this minute; try again shortly.",
                kind="rate_limit_error",
                code="rate_limit_exceeded",
                headers={"Retry-After": str(refused.retry_after)},
            ) from None
        raise ApiError(
            429,
            "Too many answers streaming at once for this user; wait for one to finish.",
            kind="rate_limit_error",
            code="too_many_concurrent_requests",
            headers={"Retry-After": str(refused.retry_after)},
        ) from None
    held.keep()
    return held


def _database_busy() -> ApiError:
    return ApiError(
        503,
        "The portal's database is busy or unavailable; retry shortly.",
        kind="server_error",
        code="database_unavailable",
        headers={"Retry-After": "2"},
    )


def _failure(end: Any) -> ApiError:
    if end.get("error_code") == "context_length_exceeded":
        # The client's error, as OpenAI answers it: SDKs retry a 5xx, never this.
        message = (
            end["error"].split(": ", 1)[-1] if end["error"].startswith("HTTP ") else end["error"]
        )
        return ApiError(400, message, param="messages", code="context_length_exceeded")
    return ApiError(503 if end["outcome"] == "failed" else 502, end["error"], kind="server_error")


@csrf_exempt
@login_not_required
async def chat_completions(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    if request.method != "POST":
        return _with_allow(ApiError(405, "Use POST.", code="method_not_allowed"), "POST")
    try:
        user = await _authenticate(request)
        params = _parse(request)
        tier = await sync_to_async(_tier_for_model)(params["model"])
        slot = await _take_slot(user)
    except ApiError as error:
        return error.response()
    except DatabaseError:
        log.exception("the database failed an API call before it started")
        return _database_busy().response()
    prompt: Prompt | list[dict[str, str]] = params["messages"]
    citations: list[dict[str, Any]] = []
    if params["knowledge"]:
        try:
            await english.question_async(_last_question(params["messages"]))
            grounding = await sync_to_async(_grounded)(
                user, params["messages"], params["max_tokens"]
            )
            prompt, citations = grounding.prompt, grounding.citations
        except Exception:
            log.exception("knowledge search failed for an API call")
            await slot.release()
            message = "The knowledge base cannot be searched right now; retry, or ask without it."
            return ApiError(503, message, kind="server_error").response()
    params["citations"] = citations
    # Admitted: the connection goes back before the model is asked (its first token can take
    # seconds under load), not when the answer ends.
    await dbconnections.release()
    events = client.stream(
        prompt,
        tier=tier,
        slot=slot,
        purpose="api",
        max_tokens=params["max_tokens"],
        temperature=params["temperature"],
    )
    try:
        first: Any = await anext(events)
    except DatabaseError:
        # Routing reads the backends: a database that fails here fails the call cleanly.
        log.exception("the database failed an API call while routing it")
        await slot.release()
        return _database_busy().response()
    except BaseException:
        await slot.release()
        raise
    if first["type"] == "end":
        # Nothing streamed yet, so the failure can still be a plain HTTP error.
        await slot.release()
        return _failure(first).response()
    # Routing may have read the backends: that connection goes back too, before streaming.
    await dbconnections.release()
    if params["stream"]:
        response = StreamingHttpResponse(
            _stream_body(events, first, params, slot), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # Nginx: pass each chunk on at once
        return response
    parts: list[str] = []
    end: Any = None
    try:
        async with aclosing(events):
            async for event in events:
                if event["type"] == "token":
                    parts.append(event["text"])
                elif event["type"] == "end":
                    end = event
    finally:
        await slot.release()
    if end is None or end["outcome"] != "complete":
        return _failure(end or {"outcome": "failed", "error": "no answer"}).response()
    return JsonResponse(
        {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": first["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(parts) or _withheld(end),
                    },
                    "finish_reason": end["finish_reason"] or "stop",
                }
            ],
            "usage": _usage(end),
            "x_opsdesk": _gateway(end, first["fell_back"]),
            "x_opsdesk_citations": citations,
        }
    )


def _model_list() -> list[dict[str, Any]]:
    served: dict[str, set[str]] = {}
    for backend in backends.load(enabled_only=True):
        served.setdefault(backend.model, set()).add(backend.tier)
    entries = [{"id": alias, "x_opsdesk_tiers": [alias]} for alias in TIER_ALIASES]
    entries.append({"id": KNOWLEDGE_MODEL, "x_opsdesk_tiers": [AUTO]})
    entries += [{"id": name, "x_opsdesk_tiers": sorted(t)} for name, t in sorted(served.items())]
    return [{"object": "model", "created": 0, "owned_by": "opsdesk", **e} for e in entries]


@csrf_exempt
@login_not_required
async def models(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return _with_allow(ApiError(405, "Use GET.", code="method_not_allowed"), "GET")
    try:
        await _authenticate(request)
        listed = await sync_to_async(_model_list)()
    except ApiError as error:
        return error.response()
    except DatabaseError:
        log.exception("the database failed a model list")
        return _database_busy().response()
    return JsonResponse({"object": "list", "data": listed})
