"""Where alert work runs, so the webhook answers in milliseconds in every setup.

- With a broker (REDIS_URL, Celery not eager): Celery tasks, delays as countdowns.
- Eager Celery (`make run` without Redis, the test settings): a Celery eager call would run
  the triage inside the webhook request, so instead one worker thread of this process runs
  the jobs in order, delayed ones (delivery retries) when they are due.
- ALERT_JOBS_INLINE (commands, some tests): in the calling thread, delays ignored.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)

_JOBS: dict[str, Callable[..., Any]] = {}
_queue: list[tuple[float, int, str, tuple[Any, ...]]] = []
_order = itertools.count()
_cond = threading.Condition()
_thread: threading.Thread | None = None
_busy = 0


def job(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function (a Celery task as well) under `name` for submit()."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        _JOBS[name] = fn
        return fn

    return wrap


def mode() -> str:
    if getattr(settings, "ALERT_JOBS_INLINE", False):
        return "inline"
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "thread"
    return "celery"


def submit(name: str, *args: Any, delay: float = 0.0) -> None:
    how = mode()
    if how == "inline":
        _JOBS[name](*args)
    elif how == "celery":
        task: Any = _JOBS[name]
        task.apply_async(args=args, countdown=max(0.0, delay) or None)
    else:
        _ensure_thread()
        with _cond:
            heapq.heappush(_queue, (time.monotonic() + max(0.0, delay), next(_order), name, args))
            _cond.notify()


def _ensure_thread() -> None:
    global _thread
    with _cond:
        if _thread is not None and _thread.is_alive():
            return
        _thread = threading.Thread(target=_work, name="alert-triage-jobs", daemon=True)
        _thread.start()
    # Work a previous process accepted but did not finish (stopped mid-storm).
    submit("alert_triage.sweep")


def _work() -> None:
    global _busy
    while True:
        with _cond:
            while not _queue or _queue[0][0] > time.monotonic():
                timeout = (_queue[0][0] - time.monotonic()) if _queue else None
                _cond.wait(timeout)
            _due, _n, name, args = heapq.heappop(_queue)
            _busy += 1
        try:
            _JOBS[name](*args)
        except Exception:
            log.exception("alert job %s%r failed", name, args)
        finally:
            close_old_connections()
            with _cond:
                _busy -= 1
                _cond.notify_all()


def wait_idle(timeout: float = 60.0, include_delayed: bool = False) -> bool:
    """Wait until the worker thread has nothing due (tests, benches). True when idle."""
    deadline = time.monotonic() + timeout
    with _cond:
        while True:
            now = time.monotonic()
            due = [j for j in _queue if include_delayed or j[0] <= now]
            if not due and _busy == 0:
                return True
            if now >= deadline:
                return False
            _cond.wait(min(0.05, deadline - now))
