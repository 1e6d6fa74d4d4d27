"""Ansible review: real ansible-playbook --syntax-check, yamllint and ansible-lint in the
sandbox, plus the production risk rules, on known-good and known-bad playbooks."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis

DATA = Path(__file__).parent / "data" / "ansible"


@functools.cache
def analysis(name: str) -> Analysis:
    # One real tool run per file for the whole session; the cases below share it.
    return registry.get("ansible").analyze((DATA / name).read_text(), {})


def rules_at(a: Analysis) -> set[tuple[str, int | None]]:
    return {(f.rule, f.line) for f in a.findings}


def rules(a: Analysis) -> set[str]:
    return {f.rule for f in a.findings}


# (file, findings expected as (rule, line), rules that must not appear, blocks a merge)
CASES = [
    ("good_rolling.yml", set(), {"ansible.restart-without-serial", "ansible.hosts-all"}, False),
    (
        "good_vault_listen.yml",
        set(),
        {"ansible.plaintext-secret", "ansible.missing-handler", "ansible.no-dry-run"},
        False,
    ),
    (
        "docs_handlers.yml",
        {
            ("ansible.restart-without-serial", 28),
            ("ansible-lint.package-latest", 10),
            ("ansible-lint.risky-file-permissions", 15),
        },
        {"ansible.missing-handler", "ansible.syntax-check"},
        True,
    ),
    (
        "fleet_restart.yml",
        {("ansible.restart-without-serial", 6), ("ansible.hosts-all", 3)},
        set(),
        True,
    ),
    (
        "shell_risks.yml",
        {
            ("ansible.curl-pipe-shell", 6),
            ("ansible.sudo-in-command", 6),
            ("ansible.rm-rf", 8),
            ("ansible.rm-rf", 10),
            ("ansible.command-instead-of-module", 12),
            ("ansible.no-dry-run", 12),
            ("ansible-lint.command-instead-of-module", 12),
            ("ansible-lint.no-changed-when", 12),
            ("ansible-lint.risky-shell-pipe", 6),
        },
        set(),
        True,
    ),
    (
        "secrets.yml",
        {
            ("ansible.plaintext-secret", 6),
            ("ansible.plaintext-secret", 7),
            ("ansible.plaintext-secret", 18),
            ("ansible.secret-without-no-log", 11),
            ("ansible.collection-missing", 11),
        },
        {"ansible.syntax-check"},
        True,
    ),
    ("become_unneeded.yml", {("ansible.become-unneeded", 4)}, {"ansible.syntax-check"}, False),
    ("become_task_debug.yml", {("ansible.become-unneeded", 13)}, set(), False),
    (
        "broken_yaml.yml",
        {("ansible.syntax-check", 8), ("yamllint.syntax", 8)},
        {"ansible-lint.syntax-check[specific]"},
        True,
    ),
    ("unknown_module.yml", {("ansible.syntax-check", 5)}, {"ansible.collection-missing"}, True),
    (
        "tasks_file.yml",
        {
            ("ansible.ignore-errors", 9),
            ("ansible.command-instead-of-module", 7),
            ("ansible-lint.ignore-errors", 7),
        },
        {"ansible.syntax-check", "ansible.restart-without-serial"},
        False,
    ),
    (
        "vars_file.yml",
        {("ansible.plaintext-secret", 3), ("ansible.plaintext-secret", 4)},
        {"ansible-lint.syntax-check[specific]"},
        True,
    ),
    ("check_mode_forced.yml", {("ansible.check-mode-forced", 8)}, {"ansible.no-dry-run"}, False),
    ("sudoers.yml", {("ansible.validate-missing", 6)}, set(), False),
    ("private_key.yml", {("ansible.plaintext-secret", 10)}, set(), True),
    ("role_meta.yml", {("ansible.plaintext-secret", 14)}, {"ansible.syntax-check"}, True),
    ("role_meta_bad.yml", {("ansible-lint.schema[meta]", 1)}, {"ansible.syntax-check"}, False),
    (
        "role_play_notify.yml",
        {("ansible.role-missing", 6)},
        {"ansible.missing-handler", "ansible.validate-missing", "ansible.syntax-check"},
        False,
    ),
]


@pytest.mark.parametrize(("name", "expected", "absent", "fails"), CASES, ids=[c[0] for c in CASES])
def test_review_finds_what_a_reviewer_would(
    name: str, expected: set[tuple[str, int]], absent: set[str], fails: bool
) -> None:
    a = analysis(name)
    assert expected <= rules_at(a), sorted(rules_at(a))
    assert not (absent & rules(a)), sorted(rules(a))
    assert a.failed is fails


def test_a_clean_playbook_has_no_findings_and_meets_the_production_profile() -> None:
    a = analysis("good_rolling.yml")
    assert a.findings == []
    assert a.facts["syntax_ok"] is True
    assert a.facts["lint_profile_passed"] == "production"
    assert set(a.facts["tools"]) == {"syntax", "yamllint", "lint"}


def test_a_yaml_error_shows_the_tools_file_line_column_excerpt() -> None:
    a = analysis("broken_yaml.yml")
    syntax = next(f for f in a.findings if f.rule == "ansible.syntax-check")
    assert syntax.where == "playbook.yml:8:8"
    assert "Origin: playbook.yml:8:8" in syntax.evidence
    assert "       state: present" in syntax.evidence and "^ column 8" in syntax.evidence
    lint = next(f for f in a.findings if f.rule == "yamllint.syntax")
    assert lint.where.startswith("playbook.yml:8:")
    assert "/tmp" not in syntax.evidence  # the sandbox's path is not shown


def test_a_secret_is_never_echoed_back_in_full() -> None:
    a = analysis("secrets.yml")
    text = repr([f.to_dict() for f in a.findings])
    assert "Winter2024!" not in text and "AKIAABCDEFGHIJKLMNOP" not in text
    found = next(f for f in a.findings if f.line == 6)
    assert found.where.endswith("db_admin_password")


@pytest.mark.parametrize("name", ["hostile_lookup.yml", "hostile_import.yml"])
def test_lookups_are_never_executed(name: str, tmp_path: Path) -> None:
    # /tmp is writable by the sandbox user too: only refusing the lookup keeps it empty.
    canary = tmp_path / "PWNED"
    tmp_path.chmod(0o777)
    text = (DATA / name).read_text().replace("PWNED_PATH", str(canary))
    a = registry.get("ansible").analyze(text, {})
    assert not canary.exists()
    syntax = next(f for f in a.findings if f.rule == "ansible.syntax-check")
    assert "refused" in syntax.message
    assert "ansible.lookup-at-load" in rules(a)
    shadow_head = Path("/etc/shadow").read_text().split(":", 1)[0] + ":"
    for f in a.findings:
        assert "$6$" not in f.evidence and "$y$" not in f.evidence
        assert shadow_head + "*" not in f.evidence and shadow_head + "!" not in f.evidence


def test_the_single_warm_run_reports_what_ansible_lint_started_alone_reports() -> None:
    # sandbox_check.py serves ansible-lint's own ansible commands from forks and normalises
    # each task once; the findings must be those of ansible-lint run the ordinary way.
    from apps.scenarios.engine import runner

    text = (DATA / "shell_risks.yml").read_text()
    alone = runner.run(
        ["ansible-lint", "--offline", "--nocolor", "-f", "codeclimate", "playbook.yml"],
        {"playbook.yml": text},
        env={"ANSIBLE_HOME": "{dir}/.ansible", "ANSIBLE_LOCAL_TEMP": "{dir}/.ansible/tmp"},
        timeout=120,
    )

    def line(loc: dict[str, Any]) -> int:
        return int((loc.get("lines") or {}).get("begin") or loc["positions"]["begin"]["line"])

    issues = json.loads(alone.stdout)
    expected = {(f"ansible-lint.{i['check_name']}", line(i["location"])) for i in issues}
    got = {
        (f.rule, f.line)
        for f in analysis("shell_risks.yml").findings
        if f.rule.startswith("ansible-lint.")
    }
    assert expected and got == expected
