"""In a real browser: sign in, ask, and watch the answer grow, against a real uvicorn portal.

Debian's Chromium (installed by `make test` through deploy/dev/system-packages.sh) is driven by
Playwright; no browser is ever downloaded. A screenshot is kept under var/ for humans.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from apps.chat.models import Message

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def test_sign_in_ask_watch_the_answer_grow_reload_and_stop(portal: str, member) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium "
            "(`make system-packages` or `bash deploy/dev/system-packages.sh`)"
        )
    from playwright.sync_api import sync_playwright

    shot = Path(settings.VAR_DIR) / "chat-browser.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{portal}/chat/")
            assert "/accounts/login/" in page.url  # anonymous: the login page first
            page.fill("input[name=username]", "member")
            page.fill("input[name=password]", "member-pass-123")
            with page.expect_navigation():
                page.click("main button[type=submit]")
            assert page.url == f"{portal}/chat/", (page.url, page.inner_text("main")[:500])
            assert page.locator("text=Новый разговор").is_visible()

            asked, lengths = watch_an_answer_grow_and_resume_after_a_reload(page, shot)
            # Stop ends it; the page swaps in the final block with its metrics.
            stopped = stop_an_answer(page)
            page.locator('.msg-assistant[data-status="interrupted"]').wait_for(timeout=20_000)
            assert (
                page.locator(".msg-assistant .msg-meta")
                .nth(stopped)
                .inner_text()
                .count("gemma-3-270m")
            )
        finally:
            browser.close()
    answers = list(Message.objects.filter(role="assistant").order_by("pk"))
    assert answers[stopped].status == Message.Status.INTERRUPTED, [a.status for a in answers]
    assert answers[asked].content and len(answers[asked].content) >= lengths[-1] - 5
    assert shot.exists() and shot.stat().st_size > 10_000


# Long answers, so that one is still being written after a reload even on a fast CPU (the
# dev model writes ~30 tokens/s on AVX-512 machines and ends a short answer in seconds).
QUESTIONS = (
    "Write a long numbered list: 40 checks to run when a Kubernetes pod restarts, with commands.",
    "Write a long numbered list: 40 kubectl commands to read a pod's logs, each explained.",
    "Write a long numbered list: 40 causes of CrashLoopBackOff and what to check for each.",
    "Write a long numbered list: 40 signs that tell an OOMKilled container from a failing probe.",
    "Write a long numbered list: 40 steps to debug a pod stuck in Pending, with commands.",
)


def watch(message: Locator, distinct: int, seconds: float) -> tuple[list[int], bool]:
    """The lengths the answer's shown text takes while it is written (until `distinct`
    lengths are seen, the answer ends, or `seconds` pass), and whether it is still written."""
    answer = message.locator(".answer")
    answer.wait_for(timeout=30_000)
    lengths: list[int] = []
    writing = True
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(set(lengths)) < distinct and writing:
        text = answer.inner_text(timeout=5_000)
        if not lengths or len(text) != lengths[-1]:
            lengths.append(len(text))
        writing = message.get_attribute("data-status") == "streaming"
        message.page.wait_for_timeout(150)
    return lengths, writing


def watch_an_answer_grow_and_resume_after_a_reload(page: Page, shot: Path) -> tuple[int, list[int]]:
    """Ask; the answer grows while the model writes it; reopening the page mid-answer shows
    the text so far and keeps streaming it. Returns the answer's position and the lengths.

    The dev model sometimes ends an answer after a few words (or the echo guard cuts it), or
    ends it while the page reloads; a reader then asks on, and so does this."""
    attempts = []
    for question in QUESTIONS:
        page.locator("#btn-send:not([disabled])").wait_for(timeout=60_000)
        asked = page.locator(".msg-assistant").count()
        page.fill("#composer-text", question)
        page.keyboard.press("Enter")
        lengths, writing = watch(page.locator(".msg-assistant").nth(asked), 6, 90)
        growing = [b > a for a, b in zip(lengths, lengths[1:], strict=False)]
        # Mostly growing: when the server's rendered HTML replaces the plain text, Markdown
        # syntax disappears and the shown length can dip once.
        if not (writing and sum(growing) >= 4 and lengths[-1] > lengths[0]):
            attempts.append(("ended", lengths))
            continue
        assert "/chat/" in page.url and page.url.rstrip("/").split("/")[-1].isdigit()
        assert page.locator(".conv.current").count() == 1  # the sidebar lists it
        page.screenshot(path=str(shot), full_page=True)

        page.reload()
        resumed, _ = watch(page.locator(".msg-assistant").nth(asked), 3, 60)
        # (Lengths of the shown text, not of the Markdown: a reload shows the rendered form,
        # where e.g. link definitions take no room, so it may start shorter.)
        assert resumed[0] > 0, (lengths, resumed)  # the text so far, at once
        if resumed[-1] > resumed[0]:
            return asked, lengths + resumed
        attempts.append(("ended during the reload", lengths + resumed))
    pytest.fail(f"no answer was seen growing and resuming after a reload: {attempts}")


def stop_an_answer(page: Page) -> int:
    """Click Stop while an answer is being written and return that answer's position.

    The dev model sometimes ends a short answer while the page reloads; then a follow-up is
    asked and stopped as soon as its first words show (the model takes seconds to finish)."""
    for _ in range(3):
        try:
            page.click("#btn-stop", timeout=3_000)
            return page.locator(".msg-assistant").count() - 1
        except PlaywrightTimeout:
            pass
        asked = page.locator(".msg-assistant").count()
        page.locator("#btn-send:not([disabled])").wait_for(timeout=30_000)
        page.fill("#composer-text", QUESTIONS[1])
        page.keyboard.press("Enter")
        answer = page.locator(".msg-assistant .answer").nth(asked)
        deadline = time.monotonic() + 60
        while not answer.inner_text(timeout=30_000).strip() and time.monotonic() < deadline:
            page.wait_for_timeout(100)
    pytest.fail("every answer ended before Stop could be clicked")
