"""Helpers shared by the tests of every app (fixtures are in the root conftest.py)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest


def engine() -> str:
    """The database engine this run is on: "postgresql" (deploy/dev/test.env) or "sqlite"
    (the `make run` set, deploy/dev/test-embedded.env)."""
    from django.db import connection

    return connection.vendor


def database_url() -> str:
    """DATABASE_URL of the test database, for a portal process started by a test."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def corpus() -> Path:
    """The public ops documentation the retrieval tests and benchmarks read where it lies
    (../shared/corpus beside the checkout); it is never copied into the project."""
    from django.conf import settings

    for path in (Path(settings.BASE_DIR).parent / "shared" / "corpus", Path("/work/shared/corpus")):
        if path.is_dir():
            return path
    pytest.fail("the documentation corpus is not beside the repository (../shared/corpus)")


def free_port() -> int:
    """A loopback port nobody listens on now (the server started next binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(
    url: str, proc: subprocess.Popen[bytes], log: Path | None = None, seconds: float = 60
) -> None:
    """Wait until `url` answers any HTTP status; fail the test at once if `proc` exits
    (with the tail of its log when there is one) or after `seconds`."""

    def tail() -> str:
        return log.read_text(errors="replace")[-2000:] if log and log.exists() else ""

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args!r} exited with {proc.returncode}: {tail()}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer in {seconds:.0f} s: {tail()}")


# How often a test that needs a long live answer asks again when the dev model ended it by
# itself too early (a busy CPU makes it restart its lists, which the echo guard withholds).
DEV_MODEL_ATTEMPTS = 6


def model_server_metrics(root: str) -> dict[str, float]:
    """The dev vLLM server's own Prometheus figures (`root` without /v1), summed by sample
    name: requests running and waiting, tokens read and written, seconds spent on each."""
    from prometheus_client.parser import text_string_to_metric_families

    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{root}/metrics", timeout=5).text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def model_server_report(root: str) -> str:
    """One line on how busy and how fast the model server has been, for a failure message or
    the end of a run: a test that waits on the model can then tell a slow server from a bug."""
    try:
        m = model_server_metrics(root)
    except (httpx.HTTPError, ValueError) as exc:
        return f"model server at {root}: metrics unavailable ({exc})"

    def rate(tokens: str, seconds: str) -> str:
        spent = m.get(seconds, 0.0)
        return f"{m.get(tokens, 0.0) / spent:.0f} tokens/s" if spent else "n/a"

    cached = m.get("vllm:prefix_cache_hits_total", 0.0)
    return (
        f"model server at {root}: running {m.get('vllm:num_requests_running', 0):.0f}, "
        f"waiting {m.get('vllm:num_requests_waiting', 0):.0f}; "
        f"{m.get('vllm:request_success_total', 0):.0f} requests finished; "
        f"prompts {m.get('vllm:prompt_tokens_total', 0):.0f} tokens ({cached:.0f} from the "
        f"prefix cache) in {m.get('vllm:request_prefill_time_seconds_sum', 0):.0f} s of prefill "
        f"({rate('vllm:prompt_tokens_total', 'vllm:request_prefill_time_seconds_sum')}); "
        f"answers {m.get('vllm:generation_tokens_total', 0):.0f} tokens in "
        f"{m.get('vllm:request_decode_time_seconds_sum', 0):.0f} s of decoding "
        f"({rate('vllm:generation_tokens_total', 'vllm:request_decode_time_seconds_sum')})"
    )


# Debian's Chromium, driven by Playwright: no browser is downloaded.
CHROMIUM = Path("/usr/bin/chromium")


def chromium(pw: Any) -> Any:
    """A headless Chromium for a browser test (Playwright's sync API object `pw`)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash deploy/dev/system-packages.sh`")
    return pw.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    )


def sign_in(page: Any, base: str, path: str) -> None:
    """Open `path` as the `member` fixture's user: through the sign-in form it redirects to."""
    page.goto(f"{base}{path}")
    page.fill("input[name=username]", "member")
    page.fill("input[name=password]", "member-pass-123")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.url.endswith(path), page.url
