"""PostgreSQL, with at most DATABASE_MAX_CONNECTIONS connections open per process.

Each request's sync code runs on a thread of its own with its own connection, so a burst of
requests (three hundred API calls starting or ending at once) opened as many connections,
and PostgreSQL's max_connections (100 by default) answered the rest "too many clients
already" in token authentication. Here a thread that wants a connection while the process
has its share open waits (DATABASE_CONNECTION_WAIT seconds) for one to close: connections
are held for milliseconds (streams release theirs, see common/dbconnections.py), so the
burst queues instead of failing. A wait that runs out is an OperationalError, as a refused
connection would be.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from django.conf import settings
from django.db import OperationalError
from django.db.backends.postgresql import base

_permits: threading.BoundedSemaphore | None = None
_setup = threading.Lock()


def limit() -> int:
    return int(getattr(settings, "DATABASE_MAX_CONNECTIONS", 20))


def _semaphore() -> threading.BoundedSemaphore:
    global _permits
    with _setup:
        if _permits is None:
            _permits = threading.BoundedSemaphore(limit())
        return _permits


class _Permit:
    """One permit, given back once (by close(), or when the wrapper is collected)."""

    def __init__(self, semaphore: threading.BoundedSemaphore) -> None:
        self.semaphore = semaphore
        self.held = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self.semaphore.release()


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._permit: _Permit | None = None
        self._finalizer: weakref.finalize[Any, Any]

    def connect(self) -> None:
        if self._permit is None:
            semaphore = _semaphore()
            wait = float(getattr(settings, "DATABASE_CONNECTION_WAIT", 10.0))
            if not semaphore.acquire(timeout=wait):
                raise OperationalError(
                    f"all {limit()} database connections of this process stayed busy for "
                    f"{wait:g} s (DATABASE_MAX_CONNECTIONS)"
                )
            permit = _Permit(semaphore)
            # A thread that ends without closing its connection still gives the permit back.
            self._finalizer = weakref.finalize(self, permit.give_back)
            self._permit = permit
        try:
            super().connect()
        except BaseException:
            self._give_back()
            raise

    def _give_back(self) -> None:
        if self._permit is not None:
            self._finalizer.detach()
            self._permit.give_back()
            self._permit = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.connection is None:
                self._give_back()
