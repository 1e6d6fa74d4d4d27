"""Chaos: the portal's PostgreSQL connections killed under load (pg_terminate_backend, over and
over), on a real portal process. The machine's PostgreSQL is shared, so it is not restarted:
killing every connection the portal holds is what a restart does to the portal.

During: every call answers, either properly or with a clean 503 in OpenAI's format (never a
500 page), and streams already under way finish whole. After: every call works again, with
no portal restart."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from apps.accounts.tokens import create_token
from apps.openai_api.tests.test_stream_connections import (  # noqa: F401
    TOKENS,
    _stream,
    api_portal,
    token_source,  # noqa: F401
)
from common.testing import database_url, engine

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.chaos]

APP = "opsdesk-chaos"


@pytest.fixture
def portal_url_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """The portal's connections carry an application name, so only they are killed."""
    url = database_url()
    monkeypatch.setattr(
        "apps.openai_api.tests.test_stream_connections.database_url",
        lambda: f"{url}?application_name={APP}",
    )


def _kill(url: str) -> int:
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            (APP,),
        ).fetchall()
    return len(rows)


async def test_killed_database_connections_fail_calls_cleanly_and_heal(
    portal_url_option: None,
    api_portal: str,  # noqa: F811
) -> None:
    if engine() != "postgresql":
        pytest.skip("kills PostgreSQL backends")
    user = await User.objects.acreate(username="chaos")
    _row, raw = await sync_to_async(create_token)(user, "ci")
    url = await sync_to_async(database_url)()
    headers = {"Authorization": f"Bearer {raw}"}
    statuses: Counter[int] = Counter()
    killed = 0
    async with httpx.AsyncClient(timeout=60) as http:

        async def models() -> None:
            response = await http.get(f"{api_portal}/v1/models", headers=headers)
            statuses[response.status_code] += 1
            if response.status_code != 200:
                assert response.status_code == 503, response.text[:300]
                assert response.json()["error"]["code"] == "database_unavailable"

        # Streams under way when the killing starts hold no connection: they finish whole.
        streams = asyncio.gather(*(_stream(http, api_portal, raw) for _ in range(5)))
        await asyncio.sleep(0.5)
        for _ in range(40):
            # Killed while calls are in flight: connections live for a call's queries only.
            kills = asyncio.to_thread(_kill, url)
            counts = await asyncio.gather(kills, *(models() for _ in range(4)))
            killed += int(counts[0] or 0)
        texts = await streams
        assert all(t == "".join(f" w{i}" for i in range(TOKENS)) for t in texts)
        # After: every call works, with the same process.
        for _ in range(10):
            response = await http.get(f"{api_portal}/v1/models", headers=headers)
            assert response.status_code == 200
        assert len(await _stream(http, api_portal, raw)) > 0
    assert set(statuses) <= {200, 503}, (statuses, killed)
