"""What differs between the two supported databases, in one place.

Production runs PostgreSQL; `make run` runs a SQLite file in var/. The code above the ORM is
the same on both; the few places that tune the engine or read its errors ask here, so that
tuning applies only where the engine has it.

SQLite allows one writer at a time. The portal writes from several threads (chat saves,
questions, index jobs, request handlers), so its connections are set up to wait for the
write lock instead of failing with "database is locked":
  * WAL journal: readers never block the writer, nor the writer them;
  * a busy timeout: a writer waits for the lock (SQLite retries with short sleeps);
  * IMMEDIATE transactions: a transaction takes the write lock when it begins. A deferred
    one that read first and writes second cannot wait for the lock (SQLite refuses at once
    when another wrote since its read, as waiting would not help), which is where "database
    is locked" came from even with a busy timeout;
  * synchronous=NORMAL: in WAL mode a commit does not wait for the disk, and a crash can
    lose the last commits but never corrupt the file (what PostgreSQL's synchronous_commit
    off gives the chat, for the whole of a laptop's database).

SQLite's LIKE ignores case for ASCII letters only, so a search for "кафка" (icontains)
missed "Кафка" on SQLite and found it on PostgreSQL. Its connections get a LIKE that ignores
case for every letter, as PostgreSQL's ILIKE does.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from django.db import IntegrityError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models import Model, UniqueConstraint

SQLITE_ENGINE = "django.db.backends.sqlite3"
POSTGRESQL_ENGINE = "django.db.backends.postgresql"
# Seconds a SQLite writer waits for another's transaction to end. Transactions here are
# short (milliseconds); this covers a burst of them, an index job's batch among them.
SQLITE_BUSY_SECONDS = 30.0


def configure(database: dict[str, Any], var_dir: str) -> dict[str, Any]:
    """The DATABASES entry with the engine's options added (see the module docstring)."""
    if database.get("ENGINE") == POSTGRESQL_ENGINE:
        # At most DATABASE_MAX_CONNECTIONS per process: see common/pgbounded/base.py.
        return {**database, "ENGINE": "common.pgbounded"}
    if database.get("ENGINE") != SQLITE_ENGINE:
        return database
    options = {
        "transaction_mode": "IMMEDIATE",
        "timeout": SQLITE_BUSY_SECONDS,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        **database.get("OPTIONS", {}),
    }
    # Tests on the `make run` set use a file like the portal does: several threads and a
    # portal process share it, which an in-memory database cannot give.
    test = {"NAME": f"{var_dir}/test-opsdesk.sqlite3", **database.get("TEST", {})}
    return {**database, "OPTIONS": options, "TEST": test}


@functools.lru_cache(maxsize=512)
def _like_pattern(pattern: str, escape: str | None) -> re.Pattern[str]:
    parts = []
    chars = iter(pattern)
    for char in chars:
        if escape and char == escape:
            parts.append(re.escape(next(chars, "")))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _like(pattern: str | None, value: Any, escape: str | None = None) -> bool | None:
    """SQLite's like(pattern, value[, escape]), the LIKE operator, ignoring Unicode case."""
    if pattern is None or value is None:
        return None
    return _like_pattern(pattern, escape).fullmatch(str(value)) is not None


def _on_connect(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        raw = connection.connection
        raw.create_function("like", 2, _like, deterministic=True)
        raw.create_function("like", 3, _like, deterministic=True)


# Connected when settings import this module, so every connection of every process has it.
connection_created.connect(_on_connect, dispatch_uid="common.database.sqlite_like")


def commit_without_flush(connection: BaseDatabaseWrapper, transaction_only: bool) -> None:
    """Let this session's commits (or, with transaction_only, the current transaction's)
    return before the disk has them. PostgreSQL does it per session or transaction; SQLite
    connections do it always (synchronous=NORMAL in WAL mode), so there is nothing to do."""
    if connection.vendor != "postgresql":
        return
    scope = "LOCAL " if transaction_only else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SET {scope}synchronous_commit TO off")


UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE for a unique constraint
# SQLite names the columns of a failed unique index, "UNIQUE constraint failed:
# chat_message.conversation_id", or the index when it is on expressions: "... index 'name'".
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?:index '(?P<index>[^']+)'|(?P<cols>.+))")


def violated_constraint(exc: IntegrityError, model: type[Model]) -> str:
    """The name of the unique constraint of `model` that `exc` reports, or "" if none.

    PostgreSQL (psycopg) names the constraint in the error's diagnostics. SQLite names the
    table and columns, which are matched to the model's unique constraints."""
    cause = exc.__cause__
    table = model._meta.db_table
    diag = getattr(cause, "diag", None)
    if diag is not None:
        if getattr(diag, "sqlstate", None) != UNIQUE_VIOLATION or diag.table_name != table:
            return ""
        return str(diag.constraint_name or "")
    found = _SQLITE_UNIQUE.search(str(cause or exc))
    if found is None:
        return ""
    if found["index"]:
        return found["index"]
    columns = set()
    for part in found["cols"].split(","):
        owner, _dot, column = part.strip().rpartition(".")
        if owner != table:
            return ""
        columns.add(column)
    for constraint in model._meta.constraints:
        if isinstance(constraint, UniqueConstraint) and constraint.fields:
            wanted = {getattr(model._meta.get_field(f), "column", f) for f in constraint.fields}
            if wanted == columns:
                return str(constraint.name)
    return ""
