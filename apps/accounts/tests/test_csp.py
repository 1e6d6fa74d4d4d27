"""The Content-Security-Policy: every page works under it in a real browser (no violation
reported), and markup injected into a page cannot run script."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.accounts.tests.conftest import live_portal

CHROMIUM = Path("/usr/bin/chromium")
PAGES = [
    "/",
    "/chat/",
    "/search/",
    "/scenarios/",
    "/capacity/",
    "/accounts/profile/",
    "/admin-console/",
    "/admin-console/users/",
    "/admin-console/lockouts/",
    "/admin-console/audit/",
    "/admin-console/knowledge/",
    "/admin-console/knowledge/new/",
    "/admin-console/knowledge/glossary/",
    "/admin-console/llm/backends/",
    "/admin-console/cluster/",
    "/admin-console/feedback/",
    "/scenarios/alert-triage/",
    "/django-admin/",
]
# Registered before any page script runs; Playwright's own evaluation is not subject to the
# page's policy, the page's scripts are.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture
def portal(transactional_db: None, tmp_path: Path) -> Iterator[str]:
    with live_portal(tmp_path) as port:
        yield f"http://127.0.0.1:{port}"


def test_policy_header_allows_no_inline_script(client: Client) -> None:
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"].startswith("'self'")
    assert "unsafe-inline" not in directives["script-src"]
    assert "unsafe-eval" not in policy
    assert directives["script-src-attr"] == "'none'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


@pytest.mark.timeout(300)
def test_pages_work_under_the_policy_and_injected_markup_runs_nothing(portal: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-packages`")
    from playwright.sync_api import sync_playwright

    User.objects.create_superuser("csp-admin", password="csp-admin-pass-1")
    assert "script-src" in httpx.get(f"{portal}/accounts/login/").headers["content-security-policy"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.add_init_script(WATCH)
            page.goto(f"{portal}/accounts/login/")
            page.fill("input[name=username]", "csp-admin")
            page.fill("input[name=password]", "csp-admin-pass-1")
            with page.expect_navigation():
                page.click("main button[type=submit]")
            seen: dict[str, list[str]] = {}
            for path in PAGES:
                response = page.goto(f"{portal}{path}")
                assert response is not None and response.status == 200, path
                page.wait_for_load_state("networkidle")
                violations = page.evaluate("window.__violations")
                if violations:
                    seen[path] = violations
                if not path.startswith("/django-admin/"):  # Django's own admin has no htmx
                    # htmx runs, with eval and script tags in swapped HTML turned off
                    assert page.evaluate("window.htmx && htmx.config.allowEval === false"), path
            assert seen == {}, seen

            # Markup that slipped into a page (as an XSS would put it there) runs nothing.
            page.goto(f"{portal}/search/")
            page.wait_for_load_state("networkidle")
            page.evaluate(
                """() => {
                  document.body.insertAdjacentHTML("beforeend",
                    '<img src="/static/missing.png" onerror="window.__pwned = 1">' +
                    '<a id="x" href="#" onclick="window.__pwned = 2">x</a>');
                  const s = document.createElement("script");
                  s.textContent = "window.__pwned = 3";
                  document.body.appendChild(s);
                }"""
            )
            page.click("#x")
            page.wait_for_timeout(500)
            assert page.evaluate("window.__pwned") is None
            blocked = page.evaluate("window.__violations")
            assert any(v.startswith("script-src") for v in blocked), blocked
        finally:
            browser.close()
