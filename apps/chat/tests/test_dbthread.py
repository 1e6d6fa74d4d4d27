"""Which chat writes wait for the disk: the answer's final save does, the question's path not."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.chat import dbthread

pytestmark = pytest.mark.django_db(transaction=True)


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


async def test_questions_commit_without_waiting_for_the_disk_and_final_saves_wait() -> None:
    # Every thread of the question pool, including one whose connection was just replaced.
    seen = {await dbthread.run(_synchronous_commit) for _ in range(dbthread.THREADS * 3)}
    assert seen == {"off"}
    dbthread.close_connections()
    assert await dbthread.run(_synchronous_commit) == "off"
    saves = {await dbthread.run_save(_synchronous_commit) for _ in range(dbthread.SAVE_THREADS * 3)}
    assert saves == {"on"}
