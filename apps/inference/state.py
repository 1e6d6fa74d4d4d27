"""Live backend state shared by every process through the Django cache (Redis).

The poller is the only writer of state and series; any process reads them. Cool-down marks are
written by whichever process saw a call fail, so all processes skip that backend together.
While Redis cannot be reached (restarted, failed over) nothing here fails a request: every
backend reads as not polled yet (tried, as before its first poll) and failures go uncounted.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apps.inference.backends import BackendConfig, load

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
STATE_KEY = "inference:state:{}"
SERIES_KEY = "inference:series:{}"
FAILURES_KEY = "inference:failures:{}"
COOLDOWN_KEY = "inference:cooldown:{}"
SERIES_MINUTES = 60
# Consecutive call failures after which a backend is put in cool-down.
FAILURES_BEFORE_COOLDOWN = 2

_caches: dict[int, BaseCache] = {}


def shared_cache() -> BaseCache:
    """The default cache, one client per process.

    `django.core.cache.cache` is a new backend in every async context, so each call made
    through sync_to_async (every LLM call's record, every read of the routing view) built a
    new Redis connection pool and connection, and redis-py scanned the installed packages for
    its own version each time: milliseconds of the GIL per call, beside the event loop that
    relays every token. redis-py's pool is thread-safe; a forked process makes its own."""
    pid = os.getpid()
    client = _caches.get(pid)
    if client is None:
        _caches.clear()
        client = _caches[pid] = caches.create_connection("default")
    return client


SERIES_METRICS = (
    "running",
    "waiting",
    "kv_cache_usage",
    "generation_tokens_per_s",
    "prompt_tokens_per_s",
    "ttft_p50",
    "ttft_p95",
    "itl_p50",
    "itl_p95",
)


@dataclass(frozen=True)
class BackendState:
    """A backend as the last poll saw it; checked_at is None when it was never polled."""

    name: str
    tier: str
    url: str
    model: str
    enabled: bool
    healthy: bool
    reason: str
    running: float | None
    waiting: float | None
    kv_cache_usage: float | None
    tokens_per_s_1m: float | None
    checked_at: datetime | None
    cooldown_until: datetime | None = None
    # Machine-readable cause behind `reason` (poller.PROBLEMS, or "not_polled"/"stale"),
    # and its technical detail, so pages can word the cause in the reader's language.
    problem: str = ""
    detail: str = ""

    @property
    def known(self) -> bool:
        return self.checked_at is not None

    @property
    def cooling_down(self) -> bool:
        return self.cooldown_until is not None and self.cooldown_until > datetime.now(UTC)


def stale_after() -> float:
    """A state older than this says nothing: the poller has stopped or lost its lease."""
    return max(3 * settings.LLM_POLL_INTERVAL, 30.0)


def _from_cache(
    config: BackendConfig, raw: dict[str, Any] | None, cooldown: float | None, now: float
) -> BackendState:
    # A state recorded for another URL (the admin just edited the backend) is not this one's.
    fresh = raw is not None and raw.get("url") == config.url and now - raw["t"] < stale_after()
    until = datetime.fromtimestamp(cooldown, UTC) if cooldown and cooldown > now else None
    if not fresh or raw is None:
        return BackendState(
            name=config.name,
            tier=config.tier,
            url=config.url,
            model=config.model,
            enabled=config.enabled,
            healthy=False,
            reason="not polled yet" if raw is None else "no recent poll",
            running=None,
            waiting=None,
            kv_cache_usage=None,
            tokens_per_s_1m=None,
            checked_at=None,
            cooldown_until=until,
            problem="not_polled" if raw is None else "stale",
        )
    return BackendState(
        name=config.name,
        tier=config.tier,
        url=config.url,
        model=config.model,
        enabled=config.enabled,
        healthy=bool(raw["healthy"]),
        reason=raw.get("reason", ""),
        running=raw.get("running"),
        waiting=raw.get("waiting"),
        kv_cache_usage=raw.get("kv_cache_usage"),
        tokens_per_s_1m=raw.get("tokens_per_s_1m"),
        checked_at=datetime.fromtimestamp(raw["t"], UTC),
        cooldown_until=until,
        problem=raw.get("problem", ""),
        detail=raw.get("detail", ""),
    )


def states_for(configs: list[BackendConfig]) -> list[BackendState]:
    keys = [STATE_KEY.format(c.name) for c in configs]
    keys += [COOLDOWN_KEY.format(c.name) for c in configs]
    try:
        values = shared_cache().get_many(keys) if keys else {}
    except UNREACHABLE as exc:
        log.warning("backend states unreadable (%s): every backend is tried", exc)
        values = {}
    now = time.time()
    return [
        _from_cache(
            c,
            values.get(STATE_KEY.format(c.name)),
            values.get(COOLDOWN_KEY.format(c.name)),
            now,
        )
        for c in configs
    ]


def backend_states(enabled_only: bool = False) -> list[BackendState]:
    """Every backend (or every enabled one) with its latest polled state."""
    return states_for(load(enabled_only=enabled_only))


def raw_state(name: str) -> dict[str, Any] | None:
    value: dict[str, Any] | None = shared_cache().get(STATE_KEY.format(name))
    return value


def write_state(name: str, raw: dict[str, Any]) -> None:
    # Kept for an hour so an admin page still shows the last known reason if polling stops.
    shared_cache().set(STATE_KEY.format(name), raw, timeout=3600)


def series(backend_name: str, metric: str, minutes: float = 15) -> list[tuple[float, float]]:
    """(unix time, value) points of one metric over the last `minutes`, oldest first.

    Metrics: see SERIES_METRICS. Points where the value was unknown (no requests finished in
    that interval for the latency percentiles) are left out.
    """
    if metric not in SERIES_METRICS:
        raise ValueError(f"unknown series metric {metric!r}; known: {', '.join(SERIES_METRICS)}")
    since = time.time() - minutes * 60
    points = shared_cache().get(SERIES_KEY.format(backend_name)) or []
    return [
        (p["t"], float(p[metric])) for p in points if p["t"] >= since and p.get(metric) is not None
    ]


def raw_series(name: str) -> list[dict[str, Any]]:
    return shared_cache().get(SERIES_KEY.format(name)) or []


def append_series(name: str, point: dict[str, Any]) -> list[dict[str, Any]]:
    points = raw_series(name)
    points.append(point)
    since = point["t"] - SERIES_MINUTES * 60
    points = [p for p in points if p["t"] >= since]
    shared_cache().set(SERIES_KEY.format(name), points, timeout=SERIES_MINUTES * 60)
    return points


# --- cool-down -------------------------------------------------------------------------------
def record_failure(name: str) -> bool:
    """Count one failed call; returns True when this failure put the backend in cool-down."""
    try:
        return _count_failure(name)
    except UNREACHABLE as exc:
        log.warning("failure of %s not counted (%s)", name, exc)
        return False


def _count_failure(name: str) -> bool:
    key = FAILURES_KEY.format(name)
    cooldown = settings.LLM_COOLDOWN_SECONDS
    # add() then incr(): atomic in Redis, so concurrent failures in several processes count.
    store = shared_cache()
    store.add(key, 0, timeout=max(cooldown * 4, 60))
    try:
        count = store.incr(key)
    except ValueError:  # expired between add and incr
        store.set(key, 1, timeout=max(cooldown * 4, 60))
        count = 1
    if count >= FAILURES_BEFORE_COOLDOWN:
        store.set(COOLDOWN_KEY.format(name), time.time() + cooldown, timeout=cooldown)
        store.delete(key)
        return True
    return False


def record_success(name: str) -> None:
    try:
        shared_cache().delete(FAILURES_KEY.format(name))
    except UNREACHABLE as exc:
        log.warning("success of %s not counted (%s)", name, exc)
