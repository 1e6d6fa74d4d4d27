"""An incident's page in a real browser: reached from its alert's page, marked closed by an
engineer, its post-mortem drafted from the alerts, then drafted again as the engineer's own
run. The alert comes in as the recorded Alertmanager webhook body.

Debian's Chromium driven by Playwright, against the portal served by pytest-django's live
server; a screenshot is kept under var/ for humans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from apps.scenarios.alert_triage import jobs
from apps.scenarios.alert_triage.models import Incident
from apps.scenarios.tests.alert_fixtures import post, recorded
from apps.scenarios.tests.test_ceph_redis_browser import _login
from apps.scenarios.tests.test_proxy_config_browser import CHROMIUM, _browser

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def test_close_an_incident_and_draft_its_post_mortem(
    live_server: Any, member: Any, alert_token: str
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash deploy/dev/system-packages.sh`")
    from playwright.sync_api import sync_playwright

    assert post(Client(), recorded("alertmanager-0.25-firing.json"), alert_token).status_code == 200
    assert jobs.wait_idle(60)
    incident = Incident.objects.get()
    alert = incident.alerts.get()
    base = live_server.url
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            _login(page, base, f"/scenarios/alert-triage/{alert.pk}/")
            with page.expect_navigation():
                page.click("#alert-incident a")
            assert page.locator("#incident-state").inner_text() == "открыт"
            with page.expect_navigation():
                page.click("#close-incident")
            assert page.locator("#incident-state").inner_text() == "закрыт"
            assert jobs.wait_idle(60)
            page.reload()
            summary = page.locator("#incident-summary").inner_text()
            assert "KubePodCrashLooping" in summary and "member" in summary
            page.screenshot(
                path=str(Path(settings.VAR_DIR) / "incident-closed.png"), full_page=True
            )
            with page.expect_navigation():
                page.click("#draft-mine")
            assert "/scenarios/postmortem/runs/" in page.url
            assert "KubePodCrashLooping" in page.locator(".postmortem-timeline").inner_text()
        finally:
            browser.close()
            from apps.inference import relay

            relay.forget_all()  # the run page began the model's draft; this test ends here
