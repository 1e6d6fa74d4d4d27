"""The telemetry pipeline page in a real browser: a collector config with its error logs,
told by content, a reference error followed to its line and the logs matched against the
catalog; Data Prepper chosen; a YAML bomb refused at its line with the input kept.

Debian's Chromium driven by Playwright (no browser is downloaded), against the portal served
by pytest-django's live server; a screenshot is kept under var/ for humans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from apps.scenarios.tests.test_ansible_hostile import BILLION_LAUGHS
from apps.scenarios.tests.test_proxy_config_browser import CHROMIUM, _browser

DATA = Path(__file__).parent / "data" / "otel"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def test_config_with_logs_data_prepper_and_a_bomb(live_server: Any, member: Any) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash deploy/dev/system-packages.sh`")
    from playwright.sync_api import sync_playwright

    base = live_server.url
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            page.goto(f"{base}/scenarios/otel-pipeline/")
            page.fill("input[name=username]", "member")
            page.fill("input[name=password]", "member-pass-123")
            with page.expect_navigation():
                page.click("main button[type=submit]")
            assert page.url.endswith("/scenarios/otel-pipeline/"), page.url
            assert page.locator("select[name=kind] option[value=data-prepper]").count() == 1

            # A collector config and its logs: told by content, each finding at its line.
            page.fill("textarea[name=text]", (DATA / "collector_broken.yaml").read_text())
            page.fill("textarea[name=logs]", (DATA / "errors.log").read_text())
            page.uncheck("input[name=explain]")
            with page.expect_navigation():
                page.click("#btn-analyze")
            assert "/scenarios/otel-pipeline/runs/" in page.url
            assert "OpenTelemetry Collector" in page.locator("#otel-kind").inner_text()
            finding = page.locator(".finding", has_text="otlp/tempo").first
            assert (
                "otel.not-configured" in finding.inner_text()
            )  # the page speaks Russian by default
            matches = page.locator("#log-matches .log-match")
            assert matches.count() >= 3
            assert "log.collector.queue-full" in page.locator("#log-matches").inner_text()
            page.locator("#input summary").click()
            finding.locator('a[href="#L30"]').first.click()
            assert page.url.endswith("#L30")
            assert "otlp/tempo" in page.locator("#L30").inner_text()
            page.screenshot(path=str(Path(settings.VAR_DIR) / "otel-pipeline.png"), full_page=True)

            # Data Prepper, chosen: said so on the run page.
            page.goto(f"{base}/scenarios/otel-pipeline/")
            page.fill("textarea[name=text]", (DATA / "dataprepper_broken.yaml").read_text())
            page.select_option("select[name=kind]", "data-prepper")
            page.uncheck("input[name=explain]")
            with page.expect_navigation():
                page.click("#btn-analyze")
            kind = page.locator("#otel-kind").inner_text()
            assert "Data Prepper" in kind
            assert page.locator(".finding", has_text="dataprepper.").count() >= 1

            # Hostile: a YAML bomb is refused at its line before any check; input kept.
            page.goto(f"{base}/scenarios/otel-pipeline/")
            page.fill("textarea[name=text]", BILLION_LAUGHS)
            with page.expect_navigation():
                page.click("#btn-analyze")
            assert page.locator("#input-error").is_visible()
            assert "f: &f" in page.locator(".bad-line").inner_text()
            assert "&a" in page.locator("textarea[name=text]").input_value()
        finally:
            browser.close()
