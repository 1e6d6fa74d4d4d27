"""The newcomer's path, walked as a person trying Opsdesk for the first time would.

The portal starts the way `make run` starts it (deploy/dev/run.sh, the script behind that
target), with an environment as bare as a fresh shell's, on a temporary var directory and a
free port, talking to the real dev vLLM. In Chromium: sign in with the admin password the
first start printed; ask in Chat and watch the answer arrive; reload and find it saved with
its sources; search with its streamed answer; open every page of the top menu and of the
admin console. Then the server's own output must hold no ERROR line and no traceback.

A failure says which step broke, in the words a person reporting it would use.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.testing import free_port as _free_port

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "deploy/dev/run.sh"
CHROMIUM = Path("/usr/bin/chromium")
QUESTION = "Как перезапустить под в Kubernetes, если он в CrashLoopBackOff?"
SEARCH = "OSD nearfull rebalance"
START_SECONDS = 600  # a first start exports the embedding model and indexes the demo
FIRST_TOKEN_SECONDS = 90
ANSWER_SECONDS = 240
# What a page shows when something went wrong (Django messages, form and page errors).
ERROR_BANNER = ".error, .msg-error, [role=alert]"

pytestmark = [pytest.mark.timeout(START_SECONDS + 900)]


@dataclass
class Portal:
    """The portal started like `make run`, and what its first start printed."""

    base: str
    log: Path
    process: subprocess.Popen[bytes]
    password: str = ""
    problems: list[str] = field(default_factory=list)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


class StepFailed(AssertionError):
    """A step of the walk went wrong; the message says which, as a person would."""


@contextmanager
def step(name: str) -> Iterator[None]:
    from playwright.sync_api import Error as PlaywrightError

    started = time.monotonic()
    try:
        yield
        # Shown with the test's output (-rA, or on a failure further on): where time goes.
        print(f"{name}: {time.monotonic() - started:.1f} s")
    except StepFailed:
        raise
    except AssertionError as exc:
        raise StepFailed(f"{name}: {exc}") from None
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StepFailed(f"{name}: {first}") from None


def _bare_environment(var: Path, port: int) -> dict[str, str]:
    """What a fresh shell has, plus the two variables `make` exports to run.sh; none of the
    test suite's settings (its database, Redis, LDAP, backends) leak into the portal."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "OPSDESK_VAR": str(var),
    }
    for name in ("OPSDESK_CACHE", "LLM_DEV_PORT"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def _start(var: Path) -> Portal:
    port = _free_port()
    log = var.parent / "make-run.log"
    out = open(log, "wb")  # noqa: SIM115 (closed when the portal stops)
    process = subprocess.Popen(
        ["bash", str(RUN)],
        cwd=ROOT,
        env=_bare_environment(var, port),
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    out.close()
    portal = Portal(f"http://127.0.0.1:{port}", log, process)
    started = time.monotonic()
    deadline = started + START_SECONDS
    while True:
        found = re.search(r"First admin created: admin / (\S+)", portal.output())
        if found:
            portal.password = found.group(1)
        try:
            if portal.password and httpx.get(f"{portal.base}/healthz", timeout=2).is_success:
                print(f"Start: {time.monotonic() - started:.1f} s")
                return portal
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise StepFailed(
                f"Start: `make run` stopped (exit code {process.returncode}) before the portal "
                f"answered; its last output:\n{portal.tail()}"
            )
        if time.monotonic() > deadline:
            _stop(portal)
            what = "printed no admin password" if not portal.password else "did not answer"
            raise StepFailed(
                f"Start: the portal {what} within {START_SECONDS} s of `make run`; its last "
                f"output:\n{portal.tail()}"
            )
        time.sleep(0.5)


def _stop(portal: Portal) -> None:
    # Ctrl-C, as a person stops `make run` (run.sh has exec'd uvicorn: this is its pid).
    if portal.process.poll() is None:
        portal.process.send_signal(signal.SIGINT)
        try:
            portal.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            portal.process.kill()
            portal.process.wait(timeout=10)


@pytest.fixture(scope="module")
def newcomer_portal(tmp_path_factory: pytest.TempPathFactory, vllm: str) -> Iterator[Portal]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-packages`")
    var = tmp_path_factory.mktemp("newcomer") / "var"
    portal = _start(var)
    try:
        yield portal
    finally:
        _stop(portal)


def _watch(page: Any, portal: Portal) -> None:
    """Script errors and server errors while the pages are used count as problems."""

    def failed(response: Any) -> None:
        if response.status >= 500:
            portal.problems.append(f"{response.url} answered {response.status}")

    page.on("pageerror", lambda exc: portal.problems.append(f"script error on {page.url}: {exc}"))
    page.on("response", failed)


def _shown_errors(page: Any) -> list[str]:
    texts = []
    for node in page.locator(ERROR_BANNER).all():
        if node.is_visible() and node.inner_text().strip():
            texts.append(" ".join(node.inner_text().split()))
    return texts


def _growth(read: Any, seconds: float, wanted: int = 3) -> list[int]:
    """Lengths of a growing text, sampled until it grew `wanted` times or time ran out."""
    lengths: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        length = len(read())
        if length and (not lengths or length != lengths[-1]):
            lengths.append(length)
            if len(lengths) > wanted:
                break
        time.sleep(0.1)
    return lengths


def _sign_in(page: Any, portal: Portal) -> None:
    page.goto(f"{portal.base}/")
    assert "/accounts/login/" in page.url, f"the first page is {page.url}, not the sign-in page"
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", portal.password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    refused = _shown_errors(page)
    assert "/accounts/login/" not in page.url, (
        f"the admin password printed by the first start was refused: {refused}"
    )


def _chat(page: Any, portal: Portal) -> tuple[str, list[str]]:
    page.goto(f"{portal.base}/chat/")
    page.fill("#composer-text", QUESTION)
    page.keyboard.press("Enter")
    message = page.locator(".msg-assistant").last
    try:
        message.wait_for(timeout=30_000)
    except Exception:
        raise AssertionError(
            f"nothing appeared within 30 s after asking «{QUESTION}»; the page shows "
            f"{_shown_errors(page) or 'no error'}"
        ) from None
    answer = message.locator(".answer")
    lengths = _growth(lambda: answer.inner_text(timeout=5_000).strip(), FIRST_TOKEN_SECONDS)
    notice = _shown_errors(page)
    assert lengths, f"no answer within {FIRST_TOKEN_SECONDS} s after asking «{QUESTION}»" + (
        f"; the page says {notice}" if notice else ""
    )
    assert len(lengths) > 1, (
        f"the answer did not arrive token by token: it appeared whole ({lengths[0]} chars) "
        f"and never grew"
    )
    page.locator('.msg-assistant[data-status]:not([data-status="streaming"])').last.wait_for(
        timeout=ANSWER_SECONDS * 1000
    )
    status = message.get_attribute("data-status")
    assert status == "complete", f"the answer ended as «{status}»: {message.inner_text()[-300:]!r}"
    sources = message.locator(".citations li").all_inner_texts()
    assert sources, (
        "the answer shows no sources, though the demo knowledge base has a runbook on "
        "CrashLoopBackOff"
    )
    assert not _shown_errors(page), f"the page shows {_shown_errors(page)}"
    return " ".join(answer.inner_text().split()), sources


def _chat_reloaded(page: Any, answer: str, sources: list[str]) -> None:
    page.reload()
    message = page.locator(".msg-assistant").last
    message.wait_for(timeout=15_000)
    saved = " ".join(message.locator(".answer").inner_text().split())
    assert saved == answer, f"after a reload the answer reads {saved[:200]!r}, not {answer[:200]!r}"
    assert message.locator(".citations li").all_inner_texts() == sources, (
        "after a reload the answer's sources differ"
    )


def _search(page: Any, portal: Portal) -> None:
    # The dev model's answer is sometimes withheld by the echo guard even after the portal
    # asked it twice (about 3 in 100 search answers, docs/benchmarks.md): the page then says
    # so, and a person searches again. So does a person given a fragment (a few characters
    # written at once, too short to see it stream); a second such answer fails the test.
    box = page.locator("#answer .answer-text")
    card = page.locator("#answer")
    for attempt in range(2):
        page.goto(f"{portal.base}/search/")
        page.fill("input[name=q]", SEARCH)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        results = page.locator(".search-results li.card")
        assert results.count(), f"no results for «{SEARCH}»"
        assert box.count(), f"no answer is being written for «{SEARCH}»: {_shown_errors(page)}"
        # The placeholder is replaced by the first token; then the text grows.
        lengths = _growth(
            lambda: "" if box.locator(".muted").count() else box.inner_text().strip(),
            FIRST_TOKEN_SECONDS,
        )
        if len(lengths) <= 1 and attempt == 0:
            page.locator("#answer[data-outcome]").wait_for(timeout=ANSWER_SECONDS * 1000)
            note = card.locator(".echo-note")
            if lengths or (
                card.get_attribute("data-echo") in ("withheld", "empty") and note.count()
            ):
                continue
        assert len(lengths) > 1, (
            f"no streamed answer within {FIRST_TOKEN_SECONDS} s of searching «{SEARCH}» "
            f"(lengths seen: {lengths}; the card reads {card.inner_text()[-300:]!r})"
        )
        page.locator("#answer[data-outcome]").wait_for(timeout=ANSWER_SECONDS * 1000)
        outcome = card.get_attribute("data-outcome")
        assert outcome == "complete", (
            f"the answer ended as «{outcome}»: {card.inner_text()[-300:]!r}"
        )
        assert not _shown_errors(page), f"the answer ended with {_shown_errors(page)}"
        return


def _links(page: Any, selector: str) -> list[tuple[str, str]]:
    return [
        (" ".join(a.inner_text().split()), a.get_attribute("href") or "")
        for a in page.locator(selector).all()
    ]


def _open_each(page: Any, portal: Portal, links: list[tuple[str, str]], where: str) -> None:
    assert links, f"the {where} has no links"
    for label, href in links:
        response = page.goto(f"{portal.base}{href}")
        status = response.status if response else None
        assert status == 200, f"«{label}» ({href}) in the {where} answered {status}"
        shown = _shown_errors(page)
        assert not shown, f"«{label}» ({href}) in the {where} shows an error: {shown}"


def test_a_newcomer_runs_signs_in_chats_searches_and_opens_every_page(
    newcomer_portal: Portal,
) -> None:
    from playwright.sync_api import sync_playwright

    portal = newcomer_portal
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
            _watch(page, portal)
            with step("Sign-in"):
                _sign_in(page, portal)
            with step("Chat"):
                answer, sources = _chat(page, portal)
            with step("Chat, after reloading the page"):
                _chat_reloaded(page, answer, sources)
            with step("Search"):
                _search(page, portal)
            with step("Top menu"):
                page.goto(f"{portal.base}/")
                menu = _links(page, "nav.mainnav a")
                _open_each(page, portal, menu, "top menu")
            with step("Admin console"):
                page.goto(f"{portal.base}/admin-console/")
                _open_each(page, portal, _links(page, "nav.subnav a"), "admin console")
            with step("While using the pages"):
                assert not portal.problems, portal.problems
        finally:
            browser.close()
    _stop(portal)
    with step("Server log"):
        lines = portal.output().splitlines()
        bad = [line for line in lines if re.search(r"\b(ERROR|CRITICAL)\b|Traceback", line)]
        assert not bad, (
            f"after the walk the server printed {len(bad)} error line(s), the first: {bad[0]}"
        )
