"""The Ansible page: review and generate through the engine's page with the task, file kind
and ansible-lint profile; the tools' results beside the findings; hostile input refused or
reported at its line with nothing run; the model's YAML blocks checked by the same review."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis
from apps.scenarios.engine.checks import Verdict
from apps.scenarios.models import Run
from apps.scenarios.tests.test_ansible_hostile import BILLION_LAUGHS

pytestmark = pytest.mark.django_db

URL = reverse("scenarios:page", args=["ansible"])
DATA = Path(__file__).parent / "data" / "ansible"


def test_the_form_offers_review_or_generate_the_file_kind_and_the_profile(
    member_client: Client,
) -> None:
    html = member_client.get(URL).content.decode()
    assert 'name="task"' in html and 'value="generate"' in html
    assert 'name="kind"' in html and 'value="playbook"' in html and 'value="tasks"' in html
    assert 'name="profile"' in html and 'value="basic"' in html and 'value="production"' in html
    assert "Сгенерировать плейбук по описанию задачи" in html  # Russian by default
    member_client.cookies["django_language"] = "en"
    english = member_client.get(URL).content.decode()
    assert "Generate a playbook from a task description" in english
    assert "Role tasks (tasks/main.yml)" in english


def test_a_review_shows_the_findings_at_their_lines_and_each_tool(
    member_client: Client, member
) -> None:
    text = (DATA / "fleet_restart.yml").read_text()
    response = member_client.post(
        URL, {"mode": "paste", "text": text, "task": "review", "kind": "playbook"}
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = Run.objects.get(user=member)
    assert run.params == {"task": "review", "kind": "playbook", "profile": ""}
    rules = {(f["rule"], f.get("line")) for f in run.findings}
    assert ("ansible.restart-without-serial", 6) in rules and run.failed
    page = member_client.get(response["Location"]).content.decode()
    assert 'id="tool-runs"' in page and "ansible-playbook --syntax-check" in page
    assert "ansible-lint" in page and "yamllint" in page and 'href="#L6"' in page
    assert "Плейбук" in page  # the file kind, in Russian


def test_a_task_file_is_reviewed_as_a_role_file_with_the_chosen_profile(
    member_client: Client, member
) -> None:
    text = (DATA / "tasks_file.yml").read_text()
    member_client.cookies["django_language"] = "en"
    response = member_client.post(
        URL, {"mode": "paste", "text": text, "kind": "tasks", "profile": "basic"}
    )
    assert response.status_code == 302
    run = Run.objects.get(user=member)
    assert run.facts["kind"] == "tasks" and run.facts["profile"] == "basic"
    html = member_client.get(response["Location"]).content.decode()
    assert "Role tasks (tasks/main.yml)" in html and "ansible-lint --profile basic" in html


def test_generating_shows_the_playbook_and_offers_copy_only_when_it_passed(
    member_client: Client, member
) -> None:
    request = "Установи nginx на webservers, положи конфиг и запусти сервис"
    response = member_client.post(
        URL, {"mode": "paste", "text": request, "task": "generate", "profile": "basic"}
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = Run.objects.get(user=member)
    assert run.facts["mode"] == "generate" and run.facts["profile"] == "basic"
    page = member_client.get(response["Location"]).content.decode()
    assert 'id="generated-playbook"' in page and "ansible.builtin.package" in page
    assert 'id="generated-tasks"' in page
    if run.facts["ready"]:
        assert "verdict-passed" in page and 'id="copy-playbook"' in page
    else:
        assert "verdict-failed" in page and 'id="copy-playbook"' not in page
    # A playbook that does not pass is shown, never offered to copy.
    Run.objects.filter(pk=run.pk).update(facts={**run.facts, "ready": False})
    again = member_client.get(response["Location"]).content.decode()
    assert 'id="copy-playbook"' not in again and 'id="generate-verdict"' in again


def test_generating_below_the_basic_profile_is_refused_on_the_profile_field(
    member_client: Client,
) -> None:
    response = member_client.post(
        URL,
        {
            "mode": "paste",
            "text": "install nginx on webservers",
            "task": "generate",
            "profile": "min",
        },
    )
    assert response.status_code == 400 and not Run.objects.exists()
    assert "профиль не ниже basic" in response.content.decode()


def test_a_load_time_lookup_through_the_page_is_reported_at_its_line_and_never_run(
    member_client: Client, member, tmp_path: Path
) -> None:
    canary = tmp_path / "PWNED"
    tmp_path.chmod(
        0o777
    )  # the sandbox user could write here: only refusing the lookup keeps it empty
    text = (DATA / "hostile_lookup.yml").read_text().replace("PWNED_PATH", str(canary))
    response = member_client.post(URL, {"mode": "paste", "text": text})
    assert response.status_code == 302
    assert not canary.exists()
    run = Run.objects.get(user=member)
    syntax = next(f for f in run.findings if f["rule"] == "ansible.syntax-check")
    assert "lookup 'pipe' refused" in syntax["message"] and syntax["line"] == 2
    page = member_client.get(response["Location"]).content.decode()
    assert "lookup &#x27;pipe&#x27; refused" in page and "ansible.lookup-at-load" in page


def test_a_yaml_bomb_through_the_page_is_refused_at_its_line_at_once(
    member_client: Client,
) -> None:
    started = time.monotonic()
    response = member_client.post(URL, {"mode": "paste", "text": BILLION_LAUGHS})
    assert response.status_code == 400 and not Run.objects.exists()
    page = response.content.decode()
    assert "Строка 9:" in page and 'id="input-error"' in page
    assert "- name: lol" in page  # the input is kept in the box
    assert time.monotonic() - started < 5


def test_a_twenty_megabyte_file_on_the_page_is_refused_naming_the_limit(
    member_client: Client,
) -> None:
    big = b"- name: x\n  hosts: all\n" + b"#" * (20 * 1024 * 1024)
    started = time.monotonic()
    response = member_client.post(
        URL, {"mode": "upload", "upload": SimpleUploadedFile("site.yml", big)}
    )
    page = response.content.decode()
    assert "20.0 МБ" in page and "не больше 2 МБ" in page and not Run.objects.exists()
    assert time.monotonic() - started < 15


def test_the_models_yaml_blocks_are_checked_by_the_review_and_only_a_pass_is_ready() -> None:
    good = (DATA / "good_rolling.yml").read_text()
    bad = (DATA / "fleet_restart.yml").read_text()
    answer = (
        f"Like this:\n\n```yaml\n{good}```\n\nNot like this:\n\n```yaml\n{bad}```\n\n"
        "```bash\nansible-playbook site.yml --check --diff\n```\n"
    )
    analysis = Analysis([], facts={"kind": "playbook", "profile": "production"})
    with translation.override("en"):
        checks = registry.get("ansible").check_answer(answer, analysis)
    assert [c.verdict for c in checks] == [Verdict.PASSED, Verdict.FAILED, Verdict.UNCHECKED]
    assert checks[0].ready and "ansible-lint" in checks[0].tool
    assert checks[1].message.startswith("line 6: ") and "serial" in checks[1].message
    assert not checks[1].ready and not checks[2].ready
