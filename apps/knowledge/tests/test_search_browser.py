"""The search page in a real browser: one entry per page with its other matching section
under it, and the streamed answer's [n] links leading to a result that is on the page.

Debian's Chromium driven by Playwright, against the portal's ASGI application under uvicorn
in this process (the answer streams as Server-Sent Events, which a WSGI live server would
hold back until the end; and the embedded index is open to one process only), on the test
database and the dev model; a screenshot is kept under var/ for humans.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings

from apps.knowledge.tests.test_search import lag_pages
from common.testing import chromium, free_port, sign_in

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.both_engines,
]


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[str]:
    import uvicorn

    from portal.asgi import application

    port = free_port()
    config = uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


def test_pages_are_listed_once_and_the_answer_links_to_results_on_the_page(
    asgi_server: str, member: Any, vllm: str, tmp_path: Path, ingest: Any
) -> None:
    from playwright.sync_api import sync_playwright

    lag_pages(tmp_path)
    ingest(tmp_path, "lag-kb")
    with sync_playwright() as pw:
        browser = chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            sign_in(page, asgi_server, "/search/")
            page.goto(f"{asgi_server}/search/?q={quote('Kafka consumer lag')}")
            entries = page.locator(".search-results > li.card")
            assert entries.count() == 3
            paths = [
                entries.nth(i).locator("> div.small.muted").last.inner_text() for i in range(3)
            ]
            assert sorted(p.split(" ·")[0] for p in paths) == ["burrow.md", "lag.md", "redis.md"]
            also = page.locator("#hit-1-2")
            assert also.is_visible() and "Ещё на этой странице:" in also.inner_text()
            page.wait_for_selector("#answer[data-outcome]", timeout=240_000)
            answer = page.locator("#answer")
            assert answer.get_attribute("data-outcome") == "complete"
            assert answer.locator(".answer-text").inner_text().strip()
            # Every [n] the model wrote leads to a result shown on this page.
            for href in answer.locator("a.cite").evaluate_all(
                "els => els.map(e => e.getAttribute('href'))"
            ):
                assert href.startswith("#hit-") and page.locator(href).count() == 1, href
            page.screenshot(path=str(Path(settings.VAR_DIR) / "search-pages.png"), full_page=True)
        finally:
            browser.close()
