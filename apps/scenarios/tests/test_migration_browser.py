"""The migration checklist page in a real browser: the seed question (OpenSearch 1.3 → 2.9,
custom plugins, legacy indices) asked through the form, the checklist ticked step by step
without a reload, exported to Markdown; and a path with no direct upgrade refused under the
target version.

Debian's Chromium driven by Playwright, against the portal served by pytest-django's live
server; screenshots are kept under var/ for humans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from apps.scenarios.migration.models import StepProgress
from apps.scenarios.tests.test_ceph_redis_browser import _login
from apps.scenarios.tests.test_proxy_config_browser import CHROMIUM, _browser

DATA = Path(__file__).parent / "data" / "migration"
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def test_migration_checklist_page(live_server: Any, member: Any) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash deploy/dev/system-packages.sh`")
    from playwright.sync_api import sync_playwright

    base = live_server.url
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
            _login(page, base, "/scenarios/migration/")
            page.select_option("select[name=product]", "opensearch")
            page.fill("input[name=from_version]", "1.3.7")
            page.fill("input[name=to_version]", "3.0.0")
            page.uncheck("input[name=explain]")
            with page.expect_navigation():
                page.click("#btn-analyze")
            error = page.locator("#scenario-form").inner_text()
            assert (
                "OpenSearch 1.3.7 → 3.0.0 has no direct path; upgrade through 2.19 first" in error
            )

            page.fill("input[name=to_version]", "2.9.0")
            page.fill("textarea[name=text]", (DATA / "opensearch-1.3.yml").read_text())
            page.fill("textarea[name=plugins]", (DATA / "cat_plugins-1.3.txt").read_text())
            page.fill(
                "textarea[name=index_settings]", (DATA / "index_version_created.json").read_text()
            )
            with page.expect_navigation():
                page.click("#btn-analyze")
            assert "/scenarios/migration/runs/" in page.url
            text = page.locator("main").inner_text()
            for wanted in (
                "acme-ldap-realm",
                "audit-2019",
                "Mapping types removed",
                "node.master",
                "Take a snapshot to a remote repository",
                "cluster-manager-eligible nodes last",
            ):
                assert wanted in text, wanted

            snapshot = page.locator("#step-snapshot")
            snapshot.locator("input[name=note]").fill("pre-upgrade-2.9.0 SUCCESS")
            snapshot.locator("button[value=done]").click()
            page.locator("#step-snapshot.mig-done").wait_for(timeout=10_000)  # swapped, no reload
            assert (
                "pre-upgrade-2.9.0 SUCCESS"
                in page.locator("#step-snapshot input[name=note]").input_value()
            )
            page.screenshot(
                path=str(Path(settings.VAR_DIR) / "migration-checklist.png"), full_page=True
            )

            with page.expect_download() as download:
                page.click("#export-md")
            markdown = Path(download.value.path()).read_text()
            assert markdown.startswith("# Migration checklist: OpenSearch 1.3.7 → 2.9.0")
            assert "- [x] **" in markdown and "GET _all/_settings/index.version.created" in markdown
        finally:
            browser.close()
    # Playwright's loop is gone: the ORM may be asked again
    assert StepProgress.objects.get(step="snapshot").note == "pre-upgrade-2.9.0 SUCCESS"
