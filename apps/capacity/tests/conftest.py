"""Real parts for the cluster dashboard tests: the dev vLLM server, a portal server started
here, and a Prometheus (Debian's binary) with its own config, data directory and port that
scrapes both. Nothing is faked; a missing part fails the test instead of skipping it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings
from django.core.cache import cache

from common.testing import database_url, free_port

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def wait_for(url: str, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{what} did not answer at {url} within {seconds:.0f} s")


def backend_root(name: str) -> str:
    entry = next(b for b in settings.LLM_BACKENDS if b["name"] == name)
    return entry["url"].removesuffix("/v1")


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    """Backend state and series live in the shared cache: every test starts from nothing."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def portal_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[str]:
    """The portal itself under uvicorn, on the test database and the same Redis, so calls
    made through it are real gateway calls and its /metrics is a real scrape target."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),  # the test database pytest-django created
        # This test process polls (poller.poll_now) so each test controls when state changes.
        LLM_POLL_IN_WEB="false",
        # The same var/ as this process: it holds the collected static files pages refer to.
        OPSDESK_VAR=str(settings.VAR_DIR),
        SECRET_KEY=settings.SECRET_KEY,
    )
    log = open(tmp_path_factory.mktemp("portal-log") / "uvicorn.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/python"),
            "-m",
            "uvicorn",
            "portal.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", 60, "the portal server")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def prometheus(portal_server: str, tmp_path_factory) -> Iterator[str]:
    """Our own Prometheus: scrapes every LLM backend server (the dead one included, which
    gives up == 0) and the portal, every second."""
    if not Path(PROMETHEUS).exists():
        pytest.fail("prometheus is not installed: run deploy/dev/system-packages.sh")
    home = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    backends = sorted({urlsplit(b["url"]).netloc for b in settings.LLM_BACKENDS})
    portal = urlsplit(portal_server).netloc
    config = home / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  scrape_timeout: 900ms\n"
        "scrape_configs:\n"
        "  - job_name: vllm\n    static_configs:\n"
        f"      - targets: [{', '.join(repr(t) for t in backends)}]\n"
        "  - job_name: opsdesk\n    static_configs:\n"
        f"      - targets: ['{portal}']\n"
    )
    log = open(home / "prometheus.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/-/ready", 60, "Prometheus")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
