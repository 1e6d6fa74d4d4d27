"""Health and load poller: each backend's /health, vLLM /metrics and /v1/models.

Why an asyncio task in the ASGI process rather than Celery beat: polling is a few small HTTP
requests every few seconds, pure I/O that costs the event loop next to nothing, and it must
keep running exactly when the machine is busiest (Celery workers can sit behind long reindex
jobs, and beat is one more process to keep alive). The task starts from the ASGI lifespan
(apps.inference.lifespan); `manage.py llm_poller` runs the same loop as its own process for
deployments that prefer one. Any number of pollers may run: a lease in the shared cache lets
one of them poll at a time, and every process reads the state it writes (state.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from apps.inference import metrics, routing, state
from apps.inference.backends import BackendConfig, load, sync_from_settings
from apps.inference.errors import root_cause

log = logging.getLogger(__name__)

LEASE_KEY = "inference:poller-lease"
# Per request; a poll of every backend stays well inside the readiness probe's 4 s.
PROBE_TIMEOUT = 2.5

# Why a backend is unhealthy; the admin page translates these, /readyz shows the English.
PROBLEMS = {
    "unreachable": "health check failed",
    "unhealthy": "health endpoint reports a problem",
    "auth": "API key refused",
    "model": "served model not found",
}

_GAUGES = {
    "vllm:num_requests_running": "running",
    "vllm:num_requests_waiting": "waiting",
    "vllm:kv_cache_usage_perc": "kv_cache_usage",
}
_COUNTERS = {"vllm:generation_tokens_total": "gen", "vllm:prompt_tokens_total": "prompt"}
_HISTOGRAMS = {
    "vllm:time_to_first_token_seconds_bucket": "ttft",
    "vllm:inter_token_latency_seconds_bucket": "itl",
}


@dataclass
class Probe:
    """What one server answered (several backend entries may share one server)."""

    health_error: str = ""
    health_status: int = 0
    metrics_text: str = ""
    metrics_error: str = ""
    models: list[str] | None = None
    models_status: int = 0
    models_error: str = ""


@dataclass
class Parsed:
    gauges: dict[str, float] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)
    # histogram -> [(le, cumulative count)], sorted by le
    buckets: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


def _error(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {PROBE_TIMEOUT:g} s"
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {root_cause(exc)}"
    return f"{type(exc).__name__}: {exc}"[:300]


async def _probe(http: httpx.AsyncClient, config: BackendConfig) -> Probe:
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}

    async def get(url: str) -> httpx.Response:
        return await http.get(url, headers=headers)

    health, metrics_resp, models = await asyncio.gather(
        get(f"{config.root_url}/health"),
        get(f"{config.root_url}/metrics"),
        get(f"{config.url}/models"),
        return_exceptions=True,
    )
    probe = Probe()
    if isinstance(health, BaseException):
        probe.health_error = _error(health)  # type: ignore[arg-type]
    else:
        probe.health_status = health.status_code
    if isinstance(metrics_resp, BaseException):
        probe.metrics_error = _error(metrics_resp)  # type: ignore[arg-type]
    elif metrics_resp.status_code == 200:
        probe.metrics_text = metrics_resp.text
    else:
        probe.metrics_error = f"HTTP {metrics_resp.status_code}"
    if isinstance(models, BaseException):
        probe.models_error = _error(models)  # type: ignore[arg-type]
    else:
        probe.models_status = models.status_code
        if models.status_code == 200:
            try:
                probe.models = [m["id"] for m in models.json().get("data", [])]
            except (ValueError, KeyError, TypeError, AttributeError):
                probe.models_error = "unreadable model list"
    return probe


def parse_metrics(text: str, model: str) -> Parsed:
    """The vLLM series the gateway uses, summed over engines, for `model` where labelled."""
    parsed = Parsed()
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    kv: list[float] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            served = sample.labels.get("model_name")
            if served is not None and served != model:
                continue
            if sample.name in _GAUGES:
                key = _GAUGES[sample.name]
                if key == "kv_cache_usage":
                    kv.append(sample.value)
                else:
                    parsed.gauges[key] = parsed.gauges.get(key, 0.0) + sample.value
            elif sample.name in _COUNTERS:
                key = _COUNTERS[sample.name]
                parsed.counters[key] = parsed.counters.get(key, 0.0) + sample.value
            elif sample.name in _HISTOGRAMS:
                le = float(sample.labels["le"])
                buckets[_HISTOGRAMS[sample.name]][le] += sample.value
    if kv:
        parsed.gauges["kv_cache_usage"] = max(kv)
    parsed.buckets = {name: sorted(values.items()) for name, values in buckets.items()}
    return parsed


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus' histogram_quantile over cumulative (le, count) buckets."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return lower
            if count == below:
                return le
            return lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    return lower


def _delta(
    now: list[tuple[float, float]], before: list[list[float]] | None
) -> list[tuple[float, float]]:
    if not before or len(before) != len(now):
        return []
    diff = [(le, count - old[1]) for (le, count), old in zip(now, before, strict=True)]
    # A counter that went down means the server restarted: nothing to compare with.
    return [] if any(c < 0 for _, c in diff) else diff


def _evaluate(config: BackendConfig, probe: Probe) -> tuple[str, str]:
    """(problem code, detail); code "" means healthy."""
    if config.key_error:
        return "auth", config.key_error
    if probe.health_error:
        return "unreachable", f"GET /health: {probe.health_error}"
    if probe.health_status != 200:
        return "unhealthy", f"GET /health answered HTTP {probe.health_status}"
    if probe.models_status in (401, 403):
        return "auth", f"GET /v1/models answered HTTP {probe.models_status}"
    if probe.models is not None and config.model not in probe.models:
        return "model", f"{config.model!r} is not served (serves {', '.join(probe.models)})"
    return "", ""


def _record(config: BackendConfig, probe: Probe, now: float) -> dict[str, Any]:
    problem, detail = _evaluate(config, probe)
    previous = state.raw_state(config.name) or {}
    raw: dict[str, Any] = {
        "t": now,
        "url": config.url,
        "healthy": not problem,
        "problem": problem,
        "detail": detail,
        "reason": f"{PROBLEMS[problem]}: {detail}" if problem else "",
        "running": None,
        "waiting": None,
        "kv_cache_usage": None,
        "tokens_per_s_1m": None,
        "metrics_error": probe.metrics_error,
    }
    point: dict[str, Any] = {"t": now}
    if probe.metrics_text and not problem:
        parsed = parse_metrics(probe.metrics_text, config.model)
        raw.update(parsed.gauges)
        point.update(parsed.gauges)
        raw["counters"] = parsed.counters
        raw["buckets"] = {k: [list(b) for b in v] for k, v in parsed.buckets.items()}
        point.update({f"{k}_total": v for k, v in parsed.counters.items()})
        elapsed = now - previous.get("t", now)
        old_counters = previous.get("counters") or {}
        for key, name in (("gen", "generation"), ("prompt", "prompt")):
            if elapsed > 0 and key in old_counters and key in parsed.counters:
                step = parsed.counters[key] - old_counters[key]
                point[f"{name}_tokens_per_s"] = step / elapsed if step >= 0 else None
        for hist in ("ttft", "itl"):
            diff = _delta(parsed.buckets.get(hist, []), (previous.get("buckets") or {}).get(hist))
            point[f"{hist}_p50"] = quantile(diff, 0.5)
            point[f"{hist}_p95"] = quantile(diff, 0.95)
    points = state.append_series(config.name, point) if len(point) > 1 else []
    raw["tokens_per_s_1m"] = _rate_over_last_minute(points, now)
    state.write_state(config.name, raw)
    metrics.BACKEND_UP.labels(config.name).set(0 if problem else 1)
    return raw


def _rate_over_last_minute(points: list[dict[str, Any]], now: float) -> float | None:
    window = [p for p in points if p["t"] >= now - 60 and "gen_total" in p]
    if len(window) < 2 or window[-1]["t"] <= window[0]["t"]:
        return None
    tokens = window[-1]["gen_total"] - window[0]["gen_total"]
    return float(max(tokens, 0.0) / (window[-1]["t"] - window[0]["t"]))


def _http_client() -> httpx.AsyncClient:
    timeout = httpx.Timeout(PROBE_TIMEOUT, connect=min(settings.LLM_CONNECT_TIMEOUT, 2.0))
    return httpx.AsyncClient(timeout=timeout)


async def poll_once(http: httpx.AsyncClient | None = None) -> list[state.BackendState]:
    """Poll every backend (disabled ones too, so admins see them before enabling) once.

    The long-running poller passes its own client: building one (its SSL context) costs ~0.1 s
    of the event loop that also relays every chat token.
    """
    if http is None:
        async with _http_client() as own:
            return await poll_once(own)
    mark = routing.epoch()
    configs = await sync_to_async(load)(enabled_only=False)
    # Entries that share a server (two tiers on one dev server) share one probe.
    shared: dict[tuple[str, str], asyncio.Task[Probe]] = {}
    for config in configs:
        key = (config.url, config.api_key)
        if key not in shared:
            shared[key] = asyncio.ensure_future(_probe(http, config))
    probes = {key: await task for key, task in shared.items()}
    now = time.time()

    def write() -> list[state.BackendState]:
        for config in configs:
            _record(config, probes[(config.url, config.api_key)], now)
        return state.states_for(configs)

    states = await sync_to_async(write)()
    routing.install(configs, states, mark)
    return states


def poll_now() -> list[state.BackendState]:
    """One synchronous poll (management command, readiness check, tests)."""
    return async_to_sync(poll_once)()


def _hold_lease(owner: str, seconds: float) -> bool:
    # add() is atomic in Redis: only one poller gets a free lease; its holder renews it.
    store = state.shared_cache()
    if store.add(LEASE_KEY, owner, timeout=seconds):
        return True
    if store.get(LEASE_KEY) == owner:
        store.touch(LEASE_KEY, timeout=seconds)
        return True
    return False


async def run_forever(interval: float | None = None) -> None:
    """Seed backends from settings, then poll every LLM_POLL_INTERVAL seconds until cancelled."""
    interval = interval or settings.LLM_POLL_INTERVAL
    owner = f"{socket.gethostname()}:{os.getpid()}:{id(asyncio.current_task())}"
    synced = False
    log.info("LLM backend poller started (every %.1f s)", interval)
    async with _http_client() as http:
        while True:
            started = time.monotonic()
            try:
                if not synced:
                    for change in await sync_to_async(sync_from_settings)():
                        log.info("LLM backends from settings: %s", change)
                    synced = True
                if await sync_to_async(_hold_lease)(owner, interval * 3):
                    await poll_once(http)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A broken poll (Redis or the database away) must not end the loop.
                log.exception("LLM backend poll failed")
            await asyncio.sleep(max(0.5, interval - (time.monotonic() - started)))
