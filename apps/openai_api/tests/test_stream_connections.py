"""A stream holds no database connection: many /v1 streams at once through a real portal
(uvicorn) on PostgreSQL, counted in pg_stat_activity while they stream.

The model is bench/token_source.py, a real HTTP server emitting numbered tokens on a
schedule, so every answer's text can be checked whole and in order."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User

from apps.accounts.tokens import create_token
from apps.inference.models import Backend
from common.testing import database_url, engine
from common.testing import free_port as _free_port
from common.testing import wait_for_http as _wait

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(settings.BASE_DIR)
STREAMS = 40
LIMIT = 5  # connections the portal process may open
# The portal's connections carry this name (libpq's PGAPPNAME), so only they are counted: a
# connection another process opens on the test database at that moment is not the portal's.
PORTAL_APP = "opsdesk-streams"
TOKENS = 40  # at 20 tokens/s: two seconds of streaming each


@pytest.fixture
def token_source() -> Iterator[str]:
    port = _free_port()
    command = [sys.executable, str(ROOT / "bench/token_source.py"), "--port", str(port)]
    command += ["--rate", "20", "--first-token", "0.05", "--max-tokens", str(TOKENS)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(f"http://127.0.0.1:{port}/health", proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def api_portal(token_source: str) -> Iterator[str]:
    Backend.objects.create(name="synthetic", url=token_source, model="synthetic", tier="fast")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "LLM_POLL_IN_WEB": "false",
        "LLM_USER_MAX_STREAMS": str(STREAMS),
        "LLM_USER_REQUESTS_PER_MINUTE": str(STREAMS * 4),
        "METRICS_ALLOWED_NETWORKS": "127.0.0.0/8",
        "DATABASE_MAX_CONNECTIONS": str(LIMIT),
        "PGAPPNAME": PORTAL_APP,  # an application_name in DATABASE_URL still wins
    }
    command = [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--port", str(port)]
    # The log goes to a file: a pipe nobody reads fills up and stops the server mid-test.
    log = open(Path(settings.VAR_DIR) / "stream-connections-portal.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [*command, "--log-level", "warning"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        _wait(f"http://127.0.0.1:{port}/healthz", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def _connections(url: str) -> int:
    """The portal process's open connections (an autovacuum worker, the test process or a
    previous test's process may hold others on the same database at any moment)."""
    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s",
            (PORTAL_APP,),
        ).fetchone()
        return int(row[0]) if row else 0


async def _stream(http: httpx.AsyncClient, base: str, raw: str) -> str:
    body = {
        "model": "fast",
        "stream": True,
        "max_tokens": TOKENS,
        "messages": [{"role": "user", "content": "count"}],
    }
    text = []
    async with http.stream(
        "POST",
        f"{base}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {raw}"},
    ) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:]).get("choices", []):
                    text.append(choice["delta"].get("content") or "")
    return "".join(text)


async def test_many_api_streams_hold_no_database_connection(api_portal: str) -> None:
    if engine() != "postgresql":
        pytest.skip("counts PostgreSQL's connections")
    user = await User.objects.acreate(username="streamer")
    _row, raw = await sync_to_async(create_token)(user, "ci")
    url = await sync_to_async(database_url)()
    peak = 0
    async with httpx.AsyncClient(timeout=60) as http:
        answers = asyncio.gather(*(_stream(http, api_portal, raw) for _ in range(STREAMS)))
        task = asyncio.ensure_future(answers)
        while not task.done():
            await asyncio.sleep(0.25)
            peak = max(peak, await asyncio.to_thread(_connections, url))
        texts = await task
        metrics = (await http.get(f"{api_portal}/metrics")).text
    expected = "".join(f" w{i}" for i in range(TOKENS))
    assert all(t == expected for t in texts)  # every answer whole and in order
    # Each stream kept its connection to the end before: 40 streams, 40+ connections. Now
    # the burst of 40 sign-ins and 40 call records queues for the process's 5.
    assert 0 < peak <= LIMIT, f"{peak} connections for {STREAMS} streams"
    lines = [ln for ln in metrics.splitlines() if ln.startswith("opsdesk_db_connections_")]
    figures = {ln.split()[0]: float(ln.split()[1]) for ln in lines}
    assert figures["opsdesk_db_connections_limit"] == LIMIT
    assert 1 <= figures["opsdesk_db_connections_peak"] <= LIMIT
    assert figures["opsdesk_db_connections_open"] <= LIMIT
