"""Database connections of this process: released before a response streams, counted in /metrics.

Under ASGI each request's sync code (sync_to_async) runs on a thread of its own, whose
connection Django closes when the request finishes, and a streaming response finishes when
its last byte is sent. An answer streamed for a minute kept its PostgreSQL connection for a
minute, idle: a hundred API streams took a hundred connections and the next sign-in got "too
many clients already". Views that stream call release() once authentication, admission and
the prompt are done; the call record written at the end takes a connection for the INSERT
only, and the request's end closes it again.

/metrics shows the connections open now, the most this process had open at once, and the
limit (DATABASE_MAX_CONNECTIONS, portal/pgbounded) a burst of requests queues under.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from prometheus_client import Gauge

_wrappers: weakref.WeakSet[BaseDatabaseWrapper] = weakref.WeakSet()
_lock = threading.Lock()
_peak = [0]


def open_count() -> int:
    """Connections of this process open now (every thread's)."""
    with _lock:
        return sum(1 for w in list(_wrappers) if w.connection is not None)


def peak() -> int:
    return _peak[0]


OPEN = Gauge("opsdesk_db_connections_open", "Database connections this process has open")
OPEN.set_function(open_count)
PEAK = Gauge("opsdesk_db_connections_peak", "Most database connections this process had open")
PEAK.set_function(peak)
LIMIT = Gauge(
    "opsdesk_db_connections_limit",
    "Most database connections this process may open (DATABASE_MAX_CONNECTIONS; 0: no limit)",
)
LIMIT.set_function(
    lambda: (
        settings.DATABASE_MAX_CONNECTIONS
        if settings.DATABASES["default"]["ENGINE"] == "common.pgbounded"
        else 0
    )
)


def _created(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    with _lock:
        _wrappers.add(connection)
    now = open_count()
    if now > _peak[0]:
        _peak[0] = now


connection_created.connect(_created, dispatch_uid="common.dbconnections.count")


def _close_idle() -> None:
    for connection in connections.all(initialized_only=True):
        # A transaction in progress (a test's, an atomic block) keeps its connection.
        if not connection.in_atomic_block:
            connection.close()


async def release() -> None:
    """Close the calling request's connections before its response streams (see above)."""
    await sync_to_async(_close_idle)()
