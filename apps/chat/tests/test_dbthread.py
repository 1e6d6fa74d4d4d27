"""Which chat writes wait for the disk, on each engine.

PostgreSQL: the answer's final save does, the question's path not (per session). SQLite: no
commit waits for the disk (WAL with synchronous=NORMAL on every connection), and no session
is sent PostgreSQL's SET, which SQLite rejects.
"""

from __future__ import annotations

import pytest
from django.db import connection

from apps.chat import dbthread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_engines]


def _durability() -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW synchronous_commit")
            return str(cursor.fetchone()[0])
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        level = {0: "off", 1: "normal", 2: "full", 3: "extra"}[
            cursor.execute("PRAGMA synchronous").fetchone()[0]
        ]
        return f"{mode}/{level}"


EXPECTED = {
    # (question pool, save pool)
    "postgresql": ("off", "on"),
    "sqlite": ("wal/normal", "wal/normal"),
}


async def test_questions_commit_without_waiting_for_the_disk(db_engine: str) -> None:
    quick, save = EXPECTED[db_engine]
    # Every thread of the question pool, including one whose connection was just replaced.
    seen = {await dbthread.run(_durability) for _ in range(dbthread.THREADS * 3)}
    assert seen == {quick}
    dbthread.close_connections()
    assert await dbthread.run(_durability) == quick
    saves = {await dbthread.run_save(_durability) for _ in range(dbthread.SAVE_THREADS * 3)}
    assert saves == {save}
