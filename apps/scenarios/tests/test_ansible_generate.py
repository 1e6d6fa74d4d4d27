"""Ansible generation: a task description in Russian or English becomes a playbook from
vetted templates, checked by the real syntax-check, yamllint and ansible-lint; only a clean
one is offered as ready, with an explanation of every task."""

from __future__ import annotations

import pytest
import yaml
from django.utils import translation

from apps.scenarios.ansible import templates
from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis, InputError


def generate(text: str, profile: str = "") -> Analysis:
    return registry.get("ansible").analyze(text, {"mode": "generate", "profile": profile})


CASES = [
    (
        "Установи nginx на webservers, положи конфиг, запусти сервис и сделай проверку health",
        "webservers",
        ["install", "config", "service", "healthcheck"],
        {
            "ansible.builtin.package",
            "ansible.builtin.template",
            "ansible.builtin.service",
            "ansible.builtin.uri",
        },
    ),
    (
        "Rolling restart of service api on app_servers with a health check",
        "app_servers",
        ["service", "restart", "healthcheck"],
        {"ansible.builtin.service", "ansible.builtin.wait_for", "ansible.builtin.uri"},
    ),
    (
        "create user deploy and directory /opt/app, deploy from git https://git.example.com/team/app.git",
        "app_servers",
        ["user", "directory", "git"],
        {"ansible.builtin.user", "ansible.builtin.file", "ansible.builtin.git"},
    ),
    (
        "Отключи вход по паролю в ssh на всех bastion_hosts",
        "bastion_hosts",
        ["ssh_passwords"],
        {"ansible.builtin.lineinfile", "ansible.builtin.service"},
    ),
    (
        "обнови все пакеты и перезагрузи серверы db_servers",
        "db_servers",
        ["upgrade", "reboot"],
        {"ansible.builtin.apt", "ansible.builtin.reboot"},
    ),
]


@pytest.mark.parametrize(
    ("request_text", "hosts", "intents", "modules"),
    CASES,
    ids=["ru-web", "en-restart", "en-deploy", "ru-ssh", "ru-upgrade"],
)
def test_a_description_becomes_a_clean_checked_playbook(
    request_text: str, hosts: str, intents: list[str], modules: set[str]
) -> None:
    a = generate(request_text)
    assert a.facts["ready"] is True, [(f.rule, f.message) for f in a.findings]
    assert a.facts["intents"] == intents
    assert a.facts["syntax_ok"] is True and a.facts["lint_profile_passed"] == "production"
    play = yaml.safe_load(a.facts["playbook"])[0]
    assert play["hosts"] == hosts
    used = {
        k
        for task in play["tasks"] + play.get("handlers", [])
        for k in task
        if k.startswith("ansible.")
    }
    assert used == modules and used <= templates.ALLOWED_MODULES
    assert [f.rule for f in a.findings] == ["ansible.generated"]
    # every task is explained
    assert len(a.facts["tasks"]) == len(play["tasks"]) + len(play.get("handlers", []))
    assert all(t["explanation"] for t in a.facts["tasks"])


def test_values_from_the_request_are_used_and_the_rest_are_visible_placeholders() -> None:
    a = generate(
        "create user deploy and directory /opt/app, deploy from git https://git.example.com/team/app.git"
    )
    play = yaml.safe_load(a.facts["playbook"])[0]
    assert play["tasks"][0]["ansible.builtin.user"]["name"] == "deploy"
    assert play["tasks"][1]["ansible.builtin.file"]["path"] == "/opt/app"
    assert play["vars"]["repo_url"] == "https://git.example.com/team/app.git"
    assert a.facts["placeholders"] == ["repo_version"]
    assert "repo_version" in a.findings[0].fix


def test_restarts_are_rolled_out_in_batches_and_configs_are_validated() -> None:
    a = generate("install nginx on webservers, put the config and restart service nginx")
    play = yaml.safe_load(a.facts["playbook"])[0]
    assert play["serial"] == [1, "25%"] and play["max_fail_percentage"] == 0
    template = next(t for t in play["tasks"] if "ansible.builtin.template" in t)
    assert template["ansible.builtin.template"]["validate"].startswith("/usr/sbin/nginx -t")
    assert template["notify"] == "Reload the service"


def test_hostile_values_never_reach_the_playbook() -> None:
    a = generate(
        "install nginx;rm -rf / on webservers and create user $(id) and directory /etc/../../x"
    )
    play = yaml.safe_load(a.facts["playbook"])[0]
    args = repr(play["tasks"]) + repr(play.get("vars", {}))
    assert "rm" not in args and "$(id)" not in args and ".." not in a.facts["playbook"]
    assert "$(" not in a.facts["playbook"] and ";" not in a.facts["playbook"]


def test_explanations_follow_the_language() -> None:
    with translation.override("ru"):
        a = generate("install nginx on webservers")
    assert "пакет" in a.facts["tasks"][0]["explanation"]
    with translation.override("en"):
        a = generate("install nginx on webservers")
    assert "packages" in a.facts["tasks"][0]["explanation"]


def test_a_playbook_that_fails_the_profile_is_shown_with_its_violations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def loose_file(r: templates.Request, b: templates.Built) -> None:
        # a template that forgot the file mode: the real ansible-lint must catch it
        b.tasks.append(
            {"name": "Write a file", "ansible.builtin.copy": {"content": "x", "dest": "/etc/x"}}
        )
        b.explanations["Write a file"] = "test"

    monkeypatch.setattr(templates, "INTENTS", [("loose", r"loose", loose_file)])
    a = generate("loose file on webservers")
    assert a.facts["ready"] is False
    summary = next(f for f in a.findings if f.rule == "ansible.generated")
    assert str(summary.severity) == "error" and a.failed
    assert any(f.rule == "ansible-lint.risky-file-permissions" for f in a.findings)


@pytest.mark.parametrize("text", ["", "сделай мне кофе", "x" * 3000])
def test_what_cannot_be_generated_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(InputError):
        generate(text)
