"""Fixtures of the inference tests: a clean shared cache and the real dev vLLM server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from asgiref.sync import SyncToAsync
from django.core.cache import cache
from django.db import connections

from apps.inference import routing


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
