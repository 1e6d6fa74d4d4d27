"""The portal as a real server for tests that need one (a proxy in front, a browser)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from common.testing import free_port

ROOT = Path(settings.BASE_DIR)


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.3)
    pytest.fail(f"{url} did not come up; see {log}")


@contextmanager
def live_portal(tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[int]:
    """uvicorn as the Makefile and the Helm chart start it (no proxy headers of its own), on
    the test database; yields its port on 127.0.0.1."""
    db = settings.DATABASES["default"]
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "LLM_POLL_IN_WEB": "false",
        **(env or {}),
    }
    log = tmp_path / "portal.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "portal.asgi:application"),
                *("--host", "127.0.0.1", "--port", str(port), "--no-proxy-headers"),
                *("--ws", "websockets-sansio", "--log-level", "warning"),
            ],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", server, log)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=20)
