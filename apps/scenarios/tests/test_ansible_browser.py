"""The Ansible page in a real browser: review a playbook and follow a finding to its line,
generate one from a Russian request and copy it only because it passed, and see a YAML
bomb refused at its line with the input kept.

Debian's Chromium driven by Playwright (no browser is downloaded), against the portal under
uvicorn as in production (its static files and scripts served); screenshots are kept under var/ for humans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from apps.scenarios.tests.test_ansible_hostile import BILLION_LAUGHS
from apps.scenarios.tests.test_proxy_config_browser import CHROMIUM, _browser

DATA = Path(__file__).parent / "data" / "ansible"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def test_review_generate_and_refuse_a_bomb(portal: str, member: Any) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash deploy/dev/system-packages.sh`")
    from playwright.sync_api import sync_playwright

    base = portal
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/scenarios/ansible/")
            assert "/accounts/login/" in page.url
            page.fill("input[name=username]", "member")
            page.fill("input[name=password]", "member-pass-123")
            with page.expect_navigation():
                page.click("main button[type=submit]")
            assert page.url.endswith("/scenarios/ansible/"), page.url
            # The form offers the task, the file kind and the profile.
            assert page.locator("input[name=task][value=generate]").count() == 1
            assert page.locator("select[name=kind] option[value=tasks]").count() == 1
            assert page.locator("select[name=profile] option[value=basic]").count() == 1

            # Review: a fleet-wide restart without serial, at its line, one click away.
            page.fill("textarea[name=text]", (DATA / "fleet_restart.yml").read_text())
            page.select_option("select[name=kind]", "playbook")
            page.uncheck("input[name=explain]")
            with page.expect_navigation():
                page.click("#btn-analyze")
            assert "/scenarios/ansible/runs/" in page.url
            finding = page.locator(".finding", has_text="ansible.restart-without-serial").first
            assert finding.is_visible()
            tools = page.locator("#tool-runs").inner_text()
            assert "ansible-playbook --syntax-check" in tools and "ansible-lint" in tools
            assert "yamllint" in tools
            page.locator("#input summary").click()
            finding.locator('a[href="#L6"]').first.click()
            assert page.url.endswith("#L6")
            assert "Restart sshd everywhere" in page.locator("#L6").inner_text()
            page.screenshot(path=str(Path(settings.VAR_DIR) / "ansible-review.png"))

            # Generate: a Russian request becomes a playbook that passed basic, with Copy.
            page.goto(f"{base}/scenarios/ansible/")
            page.check("input[name=task][value=generate]")
            page.select_option("select[name=profile]", "basic")
            page.uncheck("input[name=explain]")
            page.fill(
                "textarea[name=text]",
                "Установи nginx на webservers, положи конфиг и запусти сервис",
            )
            with page.expect_navigation():
                page.click("#btn-analyze")
            assert page.locator("#generate-verdict.verdict-passed").is_visible()
            playbook = page.locator("#generated-playbook").inner_text()
            assert "ansible.builtin.package" in playbook and "hosts: webservers" in playbook
            assert page.locator("#generated-tasks li").count() >= 3
            copy = page.locator("#copy-playbook")
            assert copy.is_visible()
            label = copy.inner_text()
            copy.click()
            page.wait_for_function(
                "([el, before]) => el.textContent !== before",
                arg=[copy.element_handle(), label],
                timeout=5000,
            )
            assert not errors, errors
            page.screenshot(
                path=str(Path(settings.VAR_DIR) / "ansible-generate.png"), full_page=True
            )

            # Hostile: a YAML bomb is refused at its line before any tool ran; input kept.
            page.goto(f"{base}/scenarios/ansible/")
            page.fill("textarea[name=text]", BILLION_LAUGHS)
            with page.expect_navigation():
                page.click("#btn-analyze")
            error = page.locator("#input-error")
            assert error.is_visible()
            assert "f: &f" in page.locator(".bad-line").inner_text()
            assert "&a" in page.locator("textarea[name=text]").input_value()
        finally:
            browser.close()
