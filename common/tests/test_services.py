"""Background services: apps register them, the server's lifespan starts and stops them, and
no page starts one."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.test import Client

from common import services


async def _run(lifespan_messages: list[str]) -> list[dict[str, Any]]:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    for kind in lifespan_messages:
        await inbox.put({"type": f"lifespan.{kind}"})
    await asyncio.wait_for(services.lifespan({"type": "lifespan"}, inbox.get, send), 10)
    return sent


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch) -> dict[str, services.Service]:
    registry: dict[str, services.Service] = {}
    monkeypatch.setattr(services, "_services", registry)
    return registry


def _recording(name: str, log: list[str], fail: bool = False) -> services.Service:
    @contextlib.asynccontextmanager
    async def service() -> AsyncIterator[None]:
        if fail:
            raise RuntimeError("port in use")
        log.append(f"start {name}")
        try:
            yield
        finally:
            log.append(f"stop {name}")

    return service


async def test_services_start_in_order_and_stop_in_reverse(only: dict[str, Any]) -> None:
    log: list[str] = []
    services.register("poller", _recording("poller", log))
    services.register("scheduler", _recording("scheduler", log))
    sent = await _run(["startup", "shutdown"])
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert log == ["start poller", "start scheduler", "stop scheduler", "stop poller"]


async def test_a_service_that_fails_fails_the_startup_by_name_and_stops_the_others(
    only: dict[str, Any],
) -> None:
    log: list[str] = []
    services.register("poller", _recording("poller", log))
    services.register("scheduler", _recording("scheduler", log, fail=True))
    sent = await _run(["startup"])
    assert sent == [{"type": "lifespan.startup.failed", "message": "scheduler: port in use"}]
    assert log == ["start poller", "stop poller"]


def test_apps_register_their_services() -> None:
    assert {"llm", "knowledge-schedule"} <= set(services.registered())


@pytest.mark.django_db
def test_no_page_starts_a_background_thread(admin_client: Client, settings: Any) -> None:
    # The local-mode scheduler used to start on the first visit of the search page.
    settings.QDRANT_URL = ""
    settings.KNOWLEDGE_JOBS_INLINE = False
    before = {t.name for t in threading.enumerate()}
    for url in ("/search/", "/search/?q=osd", "/admin-console/knowledge/"):
        assert admin_client.get(url).status_code in (200, 302), url
    assert "knowledge-schedule" not in {t.name for t in threading.enumerate()} - before
