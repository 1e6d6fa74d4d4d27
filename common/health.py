"""Readiness checks behind /readyz.

Each app registers the dependencies it owns (Qdrant, LLM backends) from its AppConfig.ready(),
so this module knows nothing about them. Every check must return within a few seconds: a
stopped dependency must show as failing, never hang the probe.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from django.conf import settings
from django.db import connection


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], CheckResult]
    required: bool = True


_CHECKS: dict[str, Check] = {}
CHECK_TIMEOUT = 4.0


def register(name: str, run: Callable[[], CheckResult], required: bool = True) -> None:
    _CHECKS[name] = Check(name, run, required)


def _database() -> CheckResult:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return CheckResult(True, connection.vendor)
    except Exception as exc:
        return CheckResult(False, f"{type(exc).__name__}: {exc}".strip()[:300])
    finally:
        # The check runs in a pool thread; leave no connection open behind it.
        connection.close()


def _redis() -> CheckResult:
    if not settings.REDIS_URL:
        return CheckResult(True, "not configured: in-memory channel layer, eager tasks")
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
        client.ping()
        return CheckResult(True, "ping ok")
    except Exception as exc:
        return CheckResult(False, f"{type(exc).__name__}: {exc}"[:300])


register("database", _database)
register("redis", _redis)


def run_checks() -> dict[str, dict[str, object]]:
    """Run every check in parallel, each bounded by CHECK_TIMEOUT."""
    results: dict[str, dict[str, object]] = {}
    checks = list(_CHECKS.values())
    pool = ThreadPoolExecutor(max_workers=max(1, len(checks)))
    try:
        futures = {check.name: (check, pool.submit(check.run)) for check in checks}
        for name, (check, future) in futures.items():
            try:
                result = future.result(timeout=CHECK_TIMEOUT)
            except FutureTimeout:
                result = CheckResult(False, f"no answer within {CHECK_TIMEOUT:.0f} s")
            except Exception as exc:
                result = CheckResult(False, f"{type(exc).__name__}: {exc}"[:300])
            results[name] = {"ok": result.ok, "detail": result.detail, "required": check.required}
    finally:
        # Do not wait for a hung check; its thread ends on its own socket timeout.
        pool.shutdown(wait=False, cancel_futures=True)
    return results
