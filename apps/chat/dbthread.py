"""Database calls of the chat's streaming code, run on a few dedicated threads.

Channels' database_sync_to_async closes the connection after every call when CONN_MAX_AGE
is 0, which would mean a new PostgreSQL connection for every question and every save.
These threads keep theirs open instead; a connection that failed is closed so the next call
reconnects.

Two pools, so that saving never queues in front of a question (whose wait is time to first
token):
  * run()/submit(): what a question or a socket needs now (the earlier turns, storing the
    question and its empty answer, catch-ups). Their sessions commit without waiting for
    the disk (synchronous_commit off): a commit is not held up by another's WAL flush, and a
    database crash can lose at most the last fraction of a second of these writes, never
    corrupt them. The answer's final save (run_save) waits for the disk, and makes all the
    writes before it durable with it.
  * run_save(): the periodic save of streaming answers and each answer's final save.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import DatabaseError, connection, connections

from common import database

THREADS = 4
_executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="chat-db")
SAVE_THREADS = 2
_save_executor = ThreadPoolExecutor(max_workers=SAVE_THREADS, thread_name_prefix="chat-save")
_local = threading.local()


def _call[R](fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
    try:
        return fn(*args, **kwargs)
    except DatabaseError:
        connections.close_all()
        raise


def _call_quick[R](fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
    try:
        connection.ensure_connection()
        if getattr(_local, "session", None) is not connection.connection:
            database.commit_without_flush(connection, transaction_only=False)
            _local.session = connection.connection  # once per new connection
    except DatabaseError:
        connections.close_all()
        raise
    return _call(fn, args, kwargs)


def submit[**P, R](fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[R]:
    """Start `fn` on a chat DB thread now; await the future for its result. Lets a caller do
    other waiting (Redis, say) while the database works."""
    loop = asyncio.get_running_loop()
    return loop.run_in_executor(_executor, functools.partial(_call_quick, fn, args, kwargs))


async def run[**P, R](fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    return await submit(fn, *args, **kwargs)


async def run_save[**P, R](fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    loop = asyncio.get_running_loop()
    call = functools.partial(_call, fn, args, kwargs)
    return await loop.run_in_executor(_save_executor, call)


def close_connections() -> None:
    """Close the connection of every chat DB thread (tests, before the database is dropped)."""
    for executor, threads in ((_executor, THREADS), (_save_executor, SAVE_THREADS)):
        barrier = threading.Barrier(threads, timeout=10)

        def close(barrier: threading.Barrier = barrier) -> None:
            # The barrier keeps each thread busy until all have a task: every thread runs one.
            barrier.wait()
            connections.close_all()

        futures = [executor.submit(close) for _ in range(threads)]
        for future in futures:
            future.result(timeout=15)
