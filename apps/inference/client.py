"""The one way any app talks to an LLM: `stream()` and `complete()`.

Routing (tier, least-loaded healthy backend, fall-back, cool-down) is in routing.py; this
module talks to the chosen backend over the OpenAI-compatible API (upstream.py), fails over
before the first token, and records every call (LLMCall row + Prometheus metrics).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.utils import timezone

from apps.inference import metrics, routing, state
from apps.inference.backends import BackendConfig
from apps.inference.guard import NO_ANSWER, EchoGuard
from apps.inference.limits import Slot
from apps.inference.models import AUTO, LLMCall
from apps.inference.prompts import BASE_FREQUENCY_PENALTY, Prompt, as_prompt
from apps.inference.routing import choose_tier
from apps.inference.upstream import (
    StreamError,
    Upstream,
    context_exceeded,
    describe,
    open_stream,
    retryable,
)

__all__ = ["Completion", "EndEvent", "StartEvent", "StreamEvent", "TokenEvent"]
__all__ += ["Prompt", "choose_tier", "complete", "stream"]

log = logging.getLogger(__name__)

OutcomeName = Literal["complete", "interrupted", "failed", "cancelled"]


class StartEvent(TypedDict):
    type: Literal["start"]
    backend: str
    model: str
    tier: str
    requested_tier: str
    fell_back: bool
    development: bool  # the backend serves a development model: answers must say so


class TokenEvent(TypedDict):
    """Text that arrived in one network read: one token, or several when reading is paced."""

    type: Literal["token"]
    text: str


class EndEvent(TypedDict):
    type: Literal["end"]
    outcome: OutcomeName
    error: str
    backend: str
    model: str
    tier: str
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None
    tokens_per_s: float | None
    call_id: int | None
    finish_reason: str  # "stop", "length" (hit max_tokens), or "" when it did not finish
    # Why a failed call failed, when it is the request's fault: "context_length_exceeded".
    error_code: str
    development: bool
    # The echo guard's verdict (guard.py): "" (shown as written), "withheld" (the answer
    # repeated its prompt; no token of it was sent: show guard.NOTE) or "cut" (the tokens
    # sent are the usable start; what followed repeated the prompt: show guard.CUT_NOTE).
    echo: str


StreamEvent = StartEvent | TokenEvent | EndEvent


@dataclass
class Completion:
    """A whole answer from complete(): the text plus what the end event reports."""

    text: str
    outcome: OutcomeName
    error: str = ""
    backend: str = ""
    model: str = ""
    tier: str = ""
    requested_tier: str = ""
    fell_back: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    call_id: int | None = None
    finish_reason: str = ""
    error_code: str = ""
    development: bool = False
    echo: str = ""


@dataclass
class _Call:
    """What one stream() call has seen so far, for the row and metrics written at the end."""

    requested_tier: str
    user: User | None
    purpose: str
    t0: float = field(default_factory=time.perf_counter)
    started: Any = field(default_factory=timezone.now)
    backend: BackendConfig | None = None
    tier: str = ""
    fell_back: bool = False
    first_token_at: float | None = None
    chunks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int | None = None
    finish_reason: str = ""
    attempts: list[dict[str, str]] = field(default_factory=list)
    recorded: bool = False
    guard: EchoGuard | None = None

    def end(self, outcome: OutcomeName, error: str = "", code: str = "") -> EndEvent:
        finished_at = time.perf_counter()
        completion = self.completion_tokens if self.completion_tokens is not None else self.chunks
        ttft = self.first_token_at - self.t0 if self.first_token_at is not None else None
        rate = None
        if self.first_token_at is not None and completion >= 2:
            # Decode speed: tokens after the first over the time after the first.
            elapsed = finished_at - self.first_token_at
            rate = (completion - 1) / elapsed if elapsed > 0 else None
        return {
            "type": "end",
            "outcome": outcome,
            "error": error,
            "backend": self.backend.name if self.backend else "",
            "model": self.backend.model if self.backend else "",
            "tier": self.tier,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "ttft_s": ttft,
            "tokens_per_s": rate,
            "call_id": None,
            "finish_reason": self.finish_reason,
            "error_code": code,
            "development": bool(self.backend and self.backend.development),
            "echo": self.guard.verdict if self.guard is not None else "",
        }

    def _save(self, event: EndEvent, duration: float) -> int:
        user = self.user if getattr(self.user, "is_authenticated", False) else None
        row = LLMCall.objects.create(
            user=user,
            backend=event["backend"],
            model=event["model"],
            tier=event["tier"],
            requested_tier=self.requested_tier[:8],
            fell_back=self.fell_back,
            purpose=self.purpose[:40],
            prompt_tokens=event["prompt_tokens"],
            completion_tokens=event["completion_tokens"],
            ttft_s=event["ttft_s"],
            tokens_per_s=event["tokens_per_s"],
            duration_s=duration,
            outcome=event["outcome"],
            error=event["error"],
            failed_attempts=self.attempts,
            echo=event["echo"],
            started=self.started,
            finished=timezone.now(),
        )
        if self.backend is not None and event["outcome"] != "failed":
            state.record_success(self.backend.name)
        return row.pk

    async def record(self, event: EndEvent) -> EndEvent:
        self.recorded = True
        duration = time.perf_counter() - self.t0
        backend_label = event["backend"] or "none"
        metrics.CALLS.labels(backend_label, event["outcome"]).inc()
        if event["model"] and event["ttft_s"] is not None:
            metrics.TTFT.labels(event["model"]).observe(event["ttft_s"])
        if event["model"] and event["tokens_per_s"] is not None:
            metrics.TOKENS_PER_S.labels(event["model"]).observe(event["tokens_per_s"])
        if self.guard is not None and event["outcome"] in ("complete", "interrupted"):
            metrics.GUARDED.labels(self.purpose, event["echo"] or "ok").inc()
        if event["backend"]:
            metrics.TOKENS.labels(backend_label, "prompt").inc(event["prompt_tokens"])
            metrics.TOKENS.labels(backend_label, "completion").inc(event["completion_tokens"])
        try:
            event["call_id"] = await sync_to_async(self._save)(event, duration)
        except Exception:
            # The caller still gets its answer and end event; the log says what was lost.
            log.exception("could not record an LLM call (%s)", event["outcome"])
        return event


async def _fail(call: _Call, backend: BackendConfig, exc: Exception) -> None:
    detail = describe(exc)
    call.attempts.append({"backend": backend.name, "error": detail})
    metrics.FAILOVERS.labels(backend.name).inc()
    log.warning("LLM backend %s failed before the first token: %s", backend.name, detail)
    await sync_to_async(state.record_failure)(backend.name)
    routing.forget()  # the next request sees the failure count and any cool-down


def _take(call: _Call, chunk: dict[str, Any]) -> list[str]:
    """Texts of one chunk; usage and finish reason noted on the call."""
    usage = chunk.get("usage")
    if usage:
        call.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        call.completion_tokens = int(usage.get("completion_tokens") or 0)
    texts = []
    for choice in chunk.get("choices") or ():
        # A chat chunk carries delta.content; a plain completion's chunk carries text.
        text = (choice.get("delta") or {}).get("content") or choice.get("text")
        if text:
            texts.append(text)
        if choice.get("finish_reason"):
            call.finish_reason = choice["finish_reason"]
    return texts


def _request(
    backend: BackendConfig, prompt: Prompt, max_tokens: int, temperature: float
) -> tuple[str, dict[str, Any]]:
    """The endpoint and body of one request in the form this backend's model understands:
    chat messages for an instruction-tuned model, the plain document for a base model (with
    a penalty on repeating itself and stop strings where the document would go on with
    another question or source)."""
    common = {
        "model": backend.model,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if backend.base_model:
        return "completions", {
            **common,
            "prompt": prompt.completion_text(),
            "frequency_penalty": BASE_FREQUENCY_PENALTY,
            "stop": list(prompt.stop),
        }
    return "chat/completions", {**common, "messages": prompt.messages}


# A weak model that repeats its prompt or writes nothing often answers when asked once more
# with more randomness: nothing of such an answer was shown, so the reader loses only the
# time. On the dev gemma-3-270m about a third of search answers were withheld or empty at
# the default temperature (docs/benchmarks.md, "Prompt echoes").
ECHO_RETRIES = 1
RETRY_TEMPERATURE = 0.8


async def stream(
    request: Prompt | list[dict[str, str]],
    *,
    tier: str = AUTO,
    slot: Slot | None = None,
    user: User | None = None,
    purpose: str = "chat",
    max_tokens: int = 512,
    temperature: float = 0.2,
    pace: Callable[[], float] | None = None,
) -> AsyncGenerator[StreamEvent]:
    """Stream an answer to `request` (a Prompt, or bare chat messages): one start event,
    token events, then exactly one end event.

    An answer for a signed-in user is written in one of the user's stream slots
    (limits.slot(user), held by the caller until the answer is done): pass it as `slot`;
    the call is recorded as the slot's user's. `user` without a slot is for calls nobody
    signed in asked for (an alert webhook, a bench), and an authenticated `user` without a
    slot is refused, so no caller can skip the per-user limits by accident.

    `pace`, if given, says how long to wait between reads of the upstream once the first
    token is out. Tokens that arrive meanwhile wait in the socket buffer and come as one token
    event: a caller that forwards text in batches anyway (the chat) then wakes once per batch
    instead of once per token, which is most of the cost of relaying many answers at once.

    Never raises for backend trouble: an unreachable model gives an end event with outcome
    "failed". Cancelling the consuming task, or closing this generator (use
    `contextlib.aclosing`), closes the upstream request so the server stops generating, and
    records the call as "cancelled".
    """
    if slot is not None:
        user = slot.user
    elif getattr(user, "is_authenticated", False):
        raise ValueError("an answer for a signed-in user needs one of their stream slots")
    prompt = as_prompt(request)
    messages = prompt.messages
    call = _Call(requested_tier=tier, user=user, purpose=purpose)
    if prompt.guarded:
        call.guard = EchoGuard(prompt)
    try:
        call.tier = choose_tier(messages, tier)
    except ValueError as exc:
        yield await call.record(call.end("failed", str(exc)))
        return
    candidates, skipped = await routing.plan(call.tier)
    upstream: Upstream | None = None
    try:
        for candidate in candidates:
            backend = candidate.backend
            try:
                endpoint, body = _request(backend, prompt, max_tokens, temperature)
                upstream = await open_stream(backend, body, endpoint)
                # Wait for the first chunk here: until then a failure is still invisible to
                # the caller, so the next backend can take over.
                first = await upstream.batch()
                if first is None:
                    raise StreamError("the server closed the stream without an answer")
            except Exception as exc:
                if upstream is not None:
                    await upstream.close()
                    upstream = None
                if not retryable(exc):
                    call.backend, call.tier = backend, backend.tier
                    code = "context_length_exceeded" if context_exceeded(exc) else ""
                    yield await call.record(call.end("failed", describe(exc), code))
                    return
                await _fail(call, backend, exc)
                continue
            call.backend, call.tier, call.fell_back = backend, backend.tier, candidate.fell_back
            break
        else:
            reasons = [f"{a['backend']}: {a['error']}" for a in call.attempts] + skipped
            error = "no LLM backend could answer: " + ("; ".join(reasons) or "none available")
            yield await call.record(call.end("failed", error))
            return

        routing.IN_FLIGHT[backend.name] += 1
        metrics.IN_FLIGHT.labels(backend.name).inc()
        error = ""
        try:
            yield {
                "type": "start",
                "backend": backend.name,
                "model": backend.model,
                "tier": backend.tier,
                "requested_tier": tier,
                "fell_back": call.fell_back,
                "development": backend.development,
            }
            guard = call.guard
            retries = ECHO_RETRIES
            while True:
                batch: list[dict[str, Any]] | None = first
                while batch is not None:
                    texts = [text for chunk in batch for text in _take(call, chunk)]
                    if texts:
                        if call.first_token_at is None:
                            call.first_token_at = time.perf_counter()
                        call.chunks += len(texts)
                        text = "".join(texts)
                        # The guard holds back what it has not judged yet (guard.py).
                        shown = guard.feed(text) if guard is not None else text
                        if shown:
                            yield {"type": "token", "text": shown}
                        if guard is not None and guard.done:
                            # An echo: nothing more of this answer will be shown, so the
                            # model stops writing it (closing the stream aborts the request).
                            call.finish_reason = call.finish_reason or "stop"
                            break
                        if pace is not None:
                            upstream.hold()
                            await asyncio.sleep(pace())
                    try:
                        batch = await upstream.batch()
                    except Exception as exc:
                        error = describe(exc)
                        break
                rest = guard.finish() if guard is not None else ""
                if guard is None or guard.verdict not in NO_ANSWER or error or not retries:
                    break
                # Nothing of this answer was shown: ask once more (ECHO_RETRIES).
                retries -= 1
                metrics.GUARDED.labels(purpose, f"{guard.verdict} (asked again)").inc()
                await upstream.close()
                endpoint, body = _request(backend, prompt, max_tokens, RETRY_TEMPERATURE)
                try:
                    upstream = await open_stream(backend, body, endpoint)
                    first = await upstream.batch()
                except Exception:
                    break  # the first verdict stands
                if first is None:
                    break
                guard = call.guard = EchoGuard(prompt)
                # The reader waited for this answer from the start: its first token is the
                # first they see.
                call.finish_reason, call.first_token_at, call.chunks = "", None, 0
            if rest:
                yield {"type": "token", "text": rest}
            if not error and not call.finish_reason:
                error = "the stream ended before the answer was finished"
        finally:
            routing.IN_FLIGHT[backend.name] -= 1
            metrics.IN_FLIGHT.labels(backend.name).dec()
        await upstream.close()
        upstream = None
        if not error:
            yield await call.record(call.end("complete"))
        elif call.chunks:
            message = f"{backend.name} stopped mid-answer: {error}"
            yield await call.record(call.end("interrupted", message))
        else:
            yield await call.record(call.end("failed", f"{backend.name}: {error}"))
    except (asyncio.CancelledError, GeneratorExit):
        # Closing the HTTP response makes vLLM abort the request and free its KV cache.
        if upstream is not None:
            await upstream.close()
        if not call.recorded:  # a caller closing us after the end event cancels nothing
            await call.record(call.end("cancelled", "cancelled by the caller"))
        raise


async def complete(
    request: Prompt | list[dict[str, str]],
    *,
    tier: str = AUTO,
    slot: Slot | None = None,
    user: User | None = None,
    purpose: str = "chat",
    max_tokens: int = 512,
    temperature: float = 0.2,
) -> Completion:
    """The whole answer at once, for callers that do not stream (same rules as stream())."""
    parts: list[str] = []
    result = Completion(text="", outcome="failed", requested_tier=tier)
    events = stream(
        request,
        tier=tier,
        slot=slot,
        user=user,
        purpose=purpose,
        max_tokens=max_tokens,
        temperature=temperature,
    )
    async with aclosing(events):
        async for event in events:
            if event["type"] == "start":
                result.fell_back = event["fell_back"]
            elif event["type"] == "token":
                parts.append(event["text"])
            else:
                result.outcome = event["outcome"]
                result.error = event["error"]
                result.backend = event["backend"]
                result.model = event["model"]
                result.tier = event["tier"]
                result.prompt_tokens = event["prompt_tokens"]
                result.completion_tokens = event["completion_tokens"]
                result.ttft_s = event["ttft_s"]
                result.tokens_per_s = event["tokens_per_s"]
                result.call_id = event["call_id"]
                result.finish_reason = event["finish_reason"]
                result.error_code = event["error_code"]
                result.development = event["development"]
                result.echo = event["echo"]
    result.text = "".join(parts)
    return result
