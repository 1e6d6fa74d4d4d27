"""Database calls of the chat's streaming code, run on a few dedicated threads.

Channels' database_sync_to_async closes the connection after every call when CONN_MAX_AGE
is 0, which would mean a new PostgreSQL connection for every question and every save.
These threads keep theirs open instead; a connection that failed is closed so the next call
reconnects.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import DatabaseError, connections

THREADS = 4
_executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="chat-db")
# The periodic save of streaming answers (one batch per process every 0.5 s) has a thread of
# its own, so that it never queues in front of a new question (whose wait is time to first
# token).
FLUSH_THREADS = 1
_flush_executor = ThreadPoolExecutor(max_workers=FLUSH_THREADS, thread_name_prefix="chat-flush")


def _call[R](fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
    try:
        return fn(*args, **kwargs)
    except DatabaseError:
        connections.close_all()
        raise


def submit[**P, R](fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[R]:
    """Start `fn` on a chat DB thread now; await the future for its result. Lets a caller do
    other waiting (Redis, say) while the database works."""
    loop = asyncio.get_running_loop()
    return loop.run_in_executor(_executor, functools.partial(_call, fn, args, kwargs))


async def run[**P, R](fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    return await submit(fn, *args, **kwargs)


async def run_flush[**P, R](fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    loop = asyncio.get_running_loop()
    call = functools.partial(_call, fn, args, kwargs)
    return await loop.run_in_executor(_flush_executor, call)


def close_connections() -> None:
    """Close the connection of every chat DB thread (tests, before the database is dropped)."""
    for executor, threads in ((_executor, THREADS), (_flush_executor, FLUSH_THREADS)):
        barrier = threading.Barrier(threads, timeout=10)

        def close(barrier: threading.Barrier = barrier) -> None:
            # The barrier keeps each thread busy until all have a task: every thread runs one.
            barrier.wait()
            connections.close_all()

        futures = [executor.submit(close) for _ in range(threads)]
        for future in futures:
            future.result(timeout=15)
