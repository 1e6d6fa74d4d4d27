"""The Ceph health and Redis performance pages in a real browser: paste `ceph health detail`
and see unavailable data first; paste `ceph osd tree` and see it refused; have a Redis target
read live and see its figures.

Debian's Chromium driven by Playwright, against the portal served by pytest-django's live
server; screenshots are kept under var/ for humans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from apps.scenarios.redis_advice import actions
from apps.scenarios.tests.redis_servers import running
from common.testing import CHROMIUM
from common.testing import chromium as _browser
from common.testing import sign_in as _login

DATA = Path(__file__).parent / "data" / "ceph"
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def test_ceph_and_redis_pages(live_server: Any, member: Any) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash deploy/dev/system-packages.sh`")
    from playwright.sync_api import sync_playwright

    base = live_server.url
    with running("--maxmemory", "64mb", "--maxmemory-policy", "noeviction") as server:
        server.client().mset({f"k{i}": "v" for i in range(100)})
        actions.save_target(
            None, target=None, name="cache-sre", url=server.url, groups=[Group.objects.get(name="sre")],
            enabled=True, max_keys=1000, scan_seconds=1.0,
        )  # fmt: skip
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
                _login(page, base, "/scenarios/ceph-health/")
                page.fill("textarea[name=text]", (DATA / "host_down_detail.txt").read_text())
                with page.expect_navigation():
                    page.click("#btn-analyze")
                assert "/scenarios/ceph-health/runs/" in page.url
                first = page.locator(".finding").first
                assert "PG_AVAILABILITY" in first.inner_text()
                assert (
                    "OSD_HOST_DOWN"
                    in page.locator(".finding", has_text="PG_DEGRADED").first.inner_text()
                )
                page.screenshot(
                    path=str(Path(settings.VAR_DIR) / "ceph-health.png"), full_page=True
                )

                page.goto(f"{base}/scenarios/ceph-health/")
                page.fill("textarea[name=text]", (DATA / "osd_tree.txt").read_text())
                with page.expect_navigation():
                    page.click("#btn-analyze")
                error = page.locator("#input-error")
                assert error.is_visible() and "no HEALTH_OK/WARN/ERR header" in error.inner_text()

                page.goto(f"{base}/scenarios/redis-advice/")
                page.select_option("select[name=target]", label="cache-sre")
                with page.expect_navigation():
                    page.click("#btn-analyze")
                assert "/scenarios/redis-advice/runs/" in page.url
                text = page.locator("main").inner_text()
                assert "noeviction" in text and server.url in text
                page.screenshot(
                    path=str(Path(settings.VAR_DIR) / "redis-advice.png"), full_page=True
                )
            finally:
                browser.close()
