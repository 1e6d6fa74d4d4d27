"""The post-mortem pages in a real browser: a pasted timeline and an uploaded Slack export
merged with their durations shown, the template filled from them, edited and published
for one group, then found by search.

Debian's Chromium driven by Playwright, against the portal served by pytest-django's live
server; screenshots are kept under var/ for humans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from apps.knowledge.search.retrieval import search
from apps.scenarios.models import PublishedPostmortem
from apps.scenarios.tests.test_ceph_redis_browser import _login
from apps.scenarios.tests.test_proxy_config_browser import CHROMIUM, _browser

DATA = Path(__file__).parent / "data" / "postmortem"
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]
TIMELINE = """2026-03-05
14:02 impact started: 5xx on /pay
14:06 alert PaymentsHighErrorRate fired
14:09 ack
14:40 resolved
"""


def test_draft_edit_publish_and_find_a_post_mortem(
    live_server: Any, member: Any, own_index: None
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash deploy/dev/system-packages.sh`")
    from playwright.sync_api import sync_playwright

    from apps.knowledge.store.embeddings import get_embedder

    get_embedder()  # loaded once per process: not part of what Publish waits for
    base = live_server.url
    shots = Path(settings.VAR_DIR)
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            _login(page, base, "/scenarios/postmortem/")
            page.fill("textarea[name=text]", TIMELINE)
            page.fill("input[name=timezone]", "Europe/Moscow")
            page.set_input_files("input[name=attachments]", str(DATA / "slack_incident.json"))
            page.uncheck("input[name=explain]")
            with page.expect_navigation():
                page.click("#btn-analyze")
            assert "/scenarios/postmortem/runs/" in page.url
            detect = page.locator("[data-duration=time_to_detect]").inner_text()
            assert "(240 s)" in detect
            assert "Olga Petrova" in page.locator(".postmortem-timeline").inner_text()
            page.screenshot(path=str(shots / "postmortem-draft.png"), full_page=True)

            with page.expect_navigation():
                page.click("#write-postmortem")
            body = page.input_value("textarea[name=body]")
            # The portal speaks Russian unless the user switches: the Russian template.
            assert "## Хронология" in body and "- Время до обнаружения: 4 min" in body
            page.fill("input[name=title]", "Payments 502 after the v2.14 deploy")
            page.fill(
                "textarea[name=body]",
                body.replace(
                    "TODO: первопричина и способствующие факторы.",
                    "The payments-gateway connection pool was sized 5 instead of 50.",
                ),
            )
            page.check("input[name=groups][value=sre]")
            # Publish answers once the report is indexed.
            with page.expect_navigation(timeout=120_000):
                page.click("#publish", no_wait_after=True)
            where = page.locator("#published-where").inner_text()
            assert "sre" in where and "проиндексирован" in where and "ещё не" not in where
            page.screenshot(path=str(shots / "postmortem-published.png"), full_page=True)
        finally:
            browser.close()
    row = PublishedPostmortem.objects.get()
    hits = search(member, "payments-gateway connection pool sized 5", k=3)
    assert hits and hits[0].path == row.path
