"""The change-impact page in a real browser, with a real Prometheus holding a week of
service-graph history (backfilled with promtool): paste the catalog, name the service, and
see the blast radius drawn with the undeclared caller in red, the quiet hours and the
checklist; a misspelt service comes back with the nearest name.

Debian's Chromium driven by Playwright, against pytest-django's live server; the page is
checked under the portal's Content-Security-Policy (no violation in the console) and a
screenshot is kept under var/ for humans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.scenarios.tests.alertmanager_servers import prometheus_with_history
from apps.scenarios.tests.change_impact_fixtures import CATALOG, history
from apps.scenarios.tests.test_proxy_config_browser import CHROMIUM, _browser

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def test_change_impact_page(live_server: Any, member: Any, tmp_path: Path, settings: Any) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash deploy/dev/system-packages.sh`")
    from playwright.sync_api import sync_playwright

    base = live_server.url
    with prometheus_with_history(tmp_path / "prometheus", history(settings.TIME_ZONE)) as url:
        settings.PROMETHEUS_URL = url
        with sync_playwright() as pw:
            browser = _browser(pw)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.add_cookies(
                    [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": base}]
                )
                page = context.new_page()
                violations: list[str] = []
                page.on(
                    "console",
                    lambda m: violations.append(m.text) if "Content Security" in m.text else None,
                )
                page.goto(f"{base}/scenarios/change-impact/")
                page.fill("input[name=username]", "member")
                page.fill("input[name=password]", "member-pass-123")
                with page.expect_navigation():
                    page.click("main button[type=submit]")
                page.fill("textarea[name=text]", CATALOG)
                page.fill("input[name=service]", "paymnts")
                with page.expect_navigation():
                    page.click("#btn-analyze")
                assert "did you mean 'payments'?" in page.locator("main").inner_text()
                page.fill("input[name=service]", "payments")
                page.fill("textarea[name=change]", "Upgrade payments to 3.2")
                with page.expect_navigation():
                    page.click("#btn-analyze")
                assert "/scenarios/change-impact/runs/" in page.url
                first = page.locator(".finding").first.inner_text()
                assert "orders calls payments" in first and "not in the catalog" in first
                graph = page.locator("#ci-graph")
                assert graph.is_visible()
                assert graph.locator(".node-target text").text_content() == "payments"
                # orders → payments, and ledger → audit two steps upstream: seen only in the traces.
                assert graph.locator("line.edge-undeclared").count() == 2
                box = graph.bounding_box()
                assert box is not None and box["width"] > 500 and box["height"] > 60
                assert page.locator("#ci-traffic .bar.quiet").count() == 2
                assert "Quietest: 03:00–05:00" in page.locator("#ci-window").inner_text()
                checklist = page.locator("#ci-checklist").inner_text()
                assert "Change one instance at a time" in checklist
                assert "Ask the owners of orders first" in checklist
                page.screenshot(
                    path=str(Path(settings.VAR_DIR) / "change-impact.png"), full_page=True
                )
                assert violations == []
            finally:
                browser.close()
