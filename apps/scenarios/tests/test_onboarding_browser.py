"""The onboarding track page in a real browser against a real uvicorn portal and the dev vLLM:
progress recorded with the step's buttons (htmx, no reload), a blocked step refused without
a note, then a question answered from the onboarding sources only, streamed with its
citations. Debian's Chromium driven by Playwright; a screenshot is kept under var/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from apps.scenarios.models import Run
from apps.scenarios.onboarding.models import TrackProgress
from apps.scenarios.tests.onboarding_fixtures import TeamKB
from apps.scenarios.tests.test_browser import CHROMIUM

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(400)]


@pytest.fixture
def shared_index(team_kb: TeamKB, monkeypatch: pytest.MonkeyPatch) -> TeamKB:
    """The portal process reads the test's embedded index: this process lets go of it."""
    from apps.knowledge.store import qdrant

    qdrant.close()
    monkeypatch.setenv("QDRANT_URL", "")
    monkeypatch.setenv("QDRANT_PATH", str(settings.QDRANT_PATH))
    monkeypatch.setenv("SCENARIO_EXPLANATION_MAX_TOKENS", "120")
    return team_kb


def test_track_progress_and_a_question_answered_from_the_onboarding_sources(
    shared_index: TeamKB, portal: str, member: Any
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-packages`")
    from playwright.sync_api import sync_playwright

    shot = Path(settings.VAR_DIR) / "onboarding-browser.png"
    path = "/scenarios/onboarding/tracks/sre/"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            context.add_cookies(
                [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": portal}]
            )
            page = context.new_page()
            page.goto(f"{portal}{path}")
            page.fill("input[name=username]", "member")
            page.fill("input[name=password]", "member-pass-123")
            with page.expect_navigation():
                page.click("main button[type=submit]")
            assert page.url == f"{portal}{path}", page.url

            step = page.locator("#step-cluster-access")
            step.locator("button[value=done]").click()
            page.locator("#step-cluster-access.state-done").wait_for(timeout=10_000)
            assert page.locator("#track-summary").inner_text().startswith("1 of 3 done")

            shadow = page.locator("#step-shadow-an-on-call-shift")
            shadow.locator("button[value=blocked]").click()
            page.locator("#step-shadow-an-on-call-shift .error").wait_for(timeout=10_000)
            assert (
                "Say what blocks the step"
                in page.locator("#step-shadow-an-on-call-shift").inner_text()
            )
            page.locator("#step-shadow-an-on-call-shift input[name=note]").fill("no shift yet")
            page.locator("#step-shadow-an-on-call-shift button[value=blocked]").click()
            page.locator("#step-shadow-an-on-call-shift.state-blocked").wait_for(timeout=10_000)
            assert "no shift yet" in page.locator("#step-shadow-an-on-call-shift").inner_text()
            assert page.url == f"{portal}{path}"  # no reload: htmx swapped the steps

            page.select_option("select[name=step]", value="cluster-access")
            page.fill("textarea[name=question]", "How do I request read access to the cluster?")
            with page.expect_navigation():
                page.click("#btn-ask")
            assert "?ask=" in page.url
            done = page.locator('#explanation[data-status="complete"]')
            done.wait_for(timeout=180_000)
            citations = page.locator("#explanation .citations").inner_text()
            assert "payroll" not in citations.lower()
            assert "Cluster access" in citations, citations
            assert "DBA" not in citations  # another team's track is not a source here
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    states = dict(TrackProgress.objects.filter(user=member).values_list("step", "state"))
    assert states == {"cluster-access": "done", "shadow-an-on-call-shift": "blocked"}
    run = Run.objects.get(user=member, scenario="onboarding")
    assert run.status == Run.Status.COMPLETE and run.answer.strip()
    cited = {c["source"] for c in run.citations}
    assert cited and cited <= {"team"}, run.citations
    assert shot.exists() and shot.stat().st_size > 10_000
