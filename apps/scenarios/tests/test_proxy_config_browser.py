"""The proxy-config page in a real browser: sign in, review a config and follow a finding
to its line, write one from a request, and see a hostile config refused at its line.

Debian's Chromium driven by Playwright (no browser is downloaded), against the portal served
by pytest-django's live server; a screenshot is kept under var/ for humans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from common.testing import CHROMIUM
from common.testing import chromium as _browser

BROKEN = """events {}
http {
    server_tokens off;
    server {
        listen 80;
        location / {
            proxy_buffer 4k;
            proxy_pass http://127.0.0.1:8080;
        }
    }
}
"""

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def test_review_follow_a_finding_write_and_refuse(live_server: Any, member: Any) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash deploy/dev/system-packages.sh`")
    from playwright.sync_api import sync_playwright

    base = live_server.url
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            page.goto(f"{base}/scenarios/proxy-config/")
            assert "/accounts/login/" in page.url
            page.fill("input[name=username]", "member")
            page.fill("input[name=password]", "member-pass-123")
            with page.expect_navigation():
                page.click("main button[type=submit]")
            assert page.url.endswith("/scenarios/proxy-config/"), page.url

            # Review: the tool's own error at its line, the line one click away.
            page.fill("textarea[name=text]", BROKEN)
            with page.expect_navigation():
                page.click("#btn-analyze")
            assert "/scenarios/proxy-config/runs/" in page.url
            finding = page.locator(".finding.sev-error").first
            assert 'unknown directive "proxy_buffer" in nginx.conf:7' in finding.inner_text()
            assert "nginx -t" in page.locator("#tool-runs").inner_text()
            page.locator("#input summary").click()
            finding.locator('a[href="#L7"]').first.click()
            assert page.url.endswith("#L7")
            assert "proxy_buffer 4k;" in page.locator("#L7").inner_text()
            page.screenshot(path=str(Path(settings.VAR_DIR) / "proxy-config-review.png"))

            # Write: a request in Russian becomes a config the real tool accepted.
            page.goto(f"{base}/scenarios/proxy-config/")
            page.check("input[name=task][value=write]")
            page.fill(
                "textarea[name=text]",
                "балансировщик для трёх бэкендов с health check и sticky sessions",
            )
            with page.expect_navigation():
                page.click("#btn-analyze")
            assert page.locator("#write-verdict.verdict-passed").is_visible()
            config = page.locator("#generated-config").inner_text()
            assert "cookie SERVERID insert" in config and config.count("server app") == 3
            page.screenshot(
                path=str(Path(settings.VAR_DIR) / "proxy-config-write.png"), full_page=True
            )

            # Hostile: refused before any tool ran, the line shown, the input kept.
            page.goto(f"{base}/scenarios/proxy-config/")
            page.fill("textarea[name=text]", "events {}\nhttp {\n    include /etc/shadow;\n}\n")
            with page.expect_navigation():
                page.click("#btn-analyze")
            error = page.locator("#input-error")
            assert error.is_visible() and "/etc/shadow" in error.inner_text()
            assert "include /etc/shadow;" in page.locator(".bad-line").inner_text()
            assert "include /etc/shadow;" in page.locator("textarea[name=text]").input_value()
        finally:
            browser.close()
