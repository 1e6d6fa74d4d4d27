"""Fixtures of the inference tests: a clean shared cache and the real dev vLLM server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.core.cache import cache
from django.db import connections

from apps.inference import routing


def live_root() -> str:
    """The dev vLLM server's root URL (the cpu-live entry of LLM_BACKENDS, without /v1)."""
    entry = next(b for b in settings.LLM_BACKENDS if b["name"] == "cpu-live")
    return entry["url"].removesuffix("/v1")


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    """Backend state, series and cool-downs live in Redis: start every test from nothing."""
    cache.clear()
    routing.IN_FLIGHT.clear()
    yield
    cache.clear()
    # Async tests reach the database from asgiref's one sync thread; close that thread's
    # connection, or the test database cannot be dropped at the end of the session.
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(scope="session")
def vllm() -> str:
    """The real model server must answer; a missing one fails the test instead of skipping."""
    if not any(b["name"] == "cpu-live" for b in settings.LLM_BACKENDS):
        pytest.fail("LLM_BACKENDS lacks cpu-live: source deploy/dev/test.env")
    root = live_root()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{root}/health", timeout=2).status_code == 200:
                return root
        except httpx.HTTPError:
            pass
        time.sleep(3)
    pytest.fail(f"no vLLM server answers at {root}: run `make llm`")


def vllm_sample(root: str, name: str, **labels: str) -> float:
    """Sum of one metric's samples on the vLLM server, filtered by labels."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{root}/metrics", timeout=5).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total
