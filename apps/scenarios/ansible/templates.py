"""Vetted task templates for generated playbooks, chosen by intent (Russian and English).

Every template uses fully-qualified ansible.builtin modules from ALLOWED_MODULES only, sets
file modes, pins versions and checksums through variables, and restarts through handlers,
so the result passes ansible-lint's production profile and the risk rules. Values taken
from the request pass strict patterns; anything the request does not say becomes a
variable with a visible REPLACE_ME value in `vars:`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ALLOWED_MODULES = frozenset(
    f"ansible.builtin.{m}"
    for m in (
        "package", "apt", "dnf", "service", "systemd_service", "template", "copy", "file",
        "user", "group", "cron", "git", "get_url", "unarchive", "lineinfile", "wait_for",
        "uri", "reboot", "assert",
    )
)  # fmt: skip

NAME = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,62}$")
PATH = re.compile(r"^/[A-Za-z0-9._/-]{1,200}$")
URL = re.compile(r"^https://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/%+-]*)?$")
GROUP = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")


VALIDATE = {
    "nginx": "/usr/sbin/nginx -t -c %s",
    "haproxy": "/usr/sbin/haproxy -c -f %s",
    "sshd": "/usr/sbin/sshd -t -f %s",
    "sudo": "/usr/sbin/visudo -cf %s",
}


@dataclass
class Request:
    """What was read from the task description."""

    text: str
    hosts: str = "app_servers"
    packages: list[str] = field(default_factory=list)
    service: str = ""
    user: str = ""
    path: str = ""
    url: str = ""
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class Built:
    tasks: list[dict[str, Any]] = field(default_factory=list)
    handlers: list[dict[str, Any]] = field(default_factory=list)
    explanations: dict[str, str | Promise] = field(default_factory=dict)  # task name -> why
    restarts: bool = False
    become: bool = False


def _task(b: Built, why: str | Promise, task: dict[str, Any], *, root: bool = True) -> None:
    b.tasks.append(task)
    b.explanations[task["name"]] = why
    b.become = b.become or root


def _handler(b: Built, why: str | Promise, task: dict[str, Any]) -> None:
    if all(h["name"] != task["name"] for h in b.handlers):
        b.handlers.append(task)
        b.explanations[task["name"]] = why


def _service(r: Request) -> str:
    if r.service:
        return r.service
    r.vars.setdefault("service_name", "REPLACE_ME")
    return "{{ service_name }}"


def install(r: Request, b: Built) -> None:
    if r.packages:
        names: Any = r.packages
    else:
        r.vars.setdefault("packages", ["REPLACE_ME"])
        names = "{{ packages }}"
    _task(
        b,
        _(
            "Installs the packages with the distribution's package manager; does nothing when they are present, and shows the change under --check --diff."
        ),
        {
            "name": "Install the packages",
            "ansible.builtin.package": {"name": names, "state": "present"},
        },
    )


def service(r: Request, b: Built) -> None:
    _task(
        b,
        _("Starts the service now and at boot; a no-op when it already runs."),
        {
            "name": "Start the service and enable it at boot",
            "ansible.builtin.service": {"name": _service(r), "state": "started", "enabled": True},
        },
    )


def config(r: Request, b: Built) -> None:
    b.restarts = True  # a reload on every host at once is still a fleet-wide change
    svc = r.service or "app"
    dest = r.path or f"/etc/{svc}/{svc}.conf"
    args: dict[str, Any] = {}
    if svc in VALIDATE:  # a config the daemon can check before it replaces the old one
        args["validate"] = VALIDATE[svc]
    _task(
        b,
        _(
            "Renders the configuration from a template in the repository; only a real change notifies the reload handler, so an unchanged run does not touch the service."
        ),
        {
            "name": "Write the configuration",
            "ansible.builtin.template": {
                "src": f"{svc}.conf.j2",
                "dest": dest,
                "owner": "root",
                "group": "root",
                "mode": "0644",
                "backup": True,
                **args,
            },
            "notify": "Reload the service",
        },
    )
    _handler(
        b,
        _("Runs once at the end of the play, and only when the configuration changed."),
        {
            "name": "Reload the service",
            "ansible.builtin.service": {"name": _service(r), "state": "reloaded"},
        },
    )


def restart(r: Request, b: Built) -> None:
    b.restarts = True
    _task(
        b,
        _("Restarts the service; the play's serial keeps this to one batch of hosts at a time."),
        {
            "name": "Restart the service",
            "ansible.builtin.service": {"name": _service(r), "state": "restarted"},
        },
    )
    r.vars.setdefault("service_port", 8080)
    _task(
        b,
        _(
            "Waits until the service listens again before the next batch starts, so a broken start stops the rollout."
        ),
        {
            "name": "Wait for the service port",
            "ansible.builtin.wait_for": {"port": "{{ service_port }}", "timeout": 120},
        },
        root=False,
    )


def user(r: Request, b: Built) -> None:
    name = r.user or "{{ user_name }}"
    if not r.user:
        r.vars.setdefault("user_name", "REPLACE_ME")
    _task(
        b,
        _("Creates the account with its own group and home; no password is set (key-based login)."),
        {
            "name": "Create the user",
            "ansible.builtin.user": {
                "name": name,
                "shell": "/bin/bash",
                "create_home": True,
                "state": "present",
            },
        },
    )


def directory(r: Request, b: Built) -> None:
    path = r.path or "{{ app_directory }}"
    if not r.path:
        r.vars.setdefault("app_directory", "/opt/REPLACE_ME")
    _task(
        b,
        _("Creates the directory with an explicit owner and mode; idempotent."),
        {
            "name": "Create the directory",
            "ansible.builtin.file": {
                "path": path,
                "state": "directory",
                "owner": "root",
                "group": "root",
                "mode": "0755",
            },
        },
    )


def cron(r: Request, b: Built) -> None:
    r.vars.setdefault("cron_command", "/usr/local/bin/REPLACE_ME")
    _task(
        b,
        _(
            "Adds a named cron entry (the name makes re-runs update it instead of adding a duplicate)."
        ),
        {
            "name": "Schedule the nightly job",
            "ansible.builtin.cron": {
                "name": "nightly job",
                "minute": "30",
                "hour": "2",
                "job": "{{ cron_command }}",
            },
        },
    )


def git(r: Request, b: Built) -> None:
    r.vars.setdefault("repo_url", r.url or "https://git.example.com/REPLACE_ME.git")
    r.vars.setdefault("repo_version", "REPLACE_ME")
    path = r.path or "/opt/app"
    _task(
        b,
        _(
            "Checks out a pinned version (a tag or commit, never a moving branch), so every host runs the same code."
        ),
        {
            "name": "Check out the application",
            "ansible.builtin.git": {
                "repo": "{{ repo_url }}",
                "dest": path,
                "version": "{{ repo_version }}",
            },
        },
    )


def download(r: Request, b: Built) -> None:
    r.vars.setdefault("download_url", r.url or "https://downloads.example.com/REPLACE_ME.tar.gz")
    r.vars.setdefault("download_checksum", "sha256:REPLACE_ME")
    r.vars.setdefault("download_dest", "/var/cache/app/download.tar.gz")
    _task(
        b,
        _(
            "Downloads the file only when missing or changed, and refuses it unless the checksum matches."
        ),
        {
            "name": "Download the archive",
            "ansible.builtin.get_url": {
                "url": "{{ download_url }}",
                "dest": "{{ download_dest }}",
                "checksum": "{{ download_checksum }}",
                "mode": "0644",
            },
        },
    )


def ssh_passwords(r: Request, b: Built) -> None:
    b.restarts = True
    _task(
        b,
        _(
            "Turns off password logins in sshd_config; validate runs sshd -t on the new file first, so a typo cannot lock you out."
        ),
        {
            "name": "Disable SSH password authentication",
            "ansible.builtin.lineinfile": {
                "path": "/etc/ssh/sshd_config",
                "regexp": "^#?PasswordAuthentication",
                "line": "PasswordAuthentication no",
                "validate": "/usr/sbin/sshd -t -f %s",
            },
            "notify": "Reload sshd",
        },
    )
    _handler(
        b,
        _("Reloads sshd (open sessions stay) only when the file changed."),
        {"name": "Reload sshd", "ansible.builtin.service": {"name": "ssh", "state": "reloaded"}},
    )


def upgrade(r: Request, b: Built) -> None:
    b.restarts = True
    _task(
        b,
        _(
            "Applies pending updates on Debian and Ubuntu hosts (safe upgrade: no package removals)."
        ),
        {
            "name": "Upgrade the installed packages",
            "ansible.builtin.apt": {
                "upgrade": "safe",
                "update_cache": True,
                "cache_valid_time": 3600,
            },
            "when": "ansible_facts['os_family'] == 'Debian'",
        },
    )


def reboot(r: Request, b: Built) -> None:
    b.restarts = True
    _task(
        b,
        _(
            "Reboots and waits for the host to come back; serial keeps the rest of the fleet serving."
        ),
        {"name": "Reboot the host", "ansible.builtin.reboot": {"reboot_timeout": 600}},
    )


def healthcheck(r: Request, b: Built) -> None:
    r.vars.setdefault("health_url", "http://localhost:8080/health")
    _task(
        b,
        _("Asks the service's health endpoint and fails the host unless it answers 200."),
        {
            "name": "Check the health endpoint",
            "ansible.builtin.uri": {"url": "{{ health_url }}", "status_code": 200},
            "register": "health",
            "retries": 10,
            "delay": 6,
            "until": "health.status == 200",
        },
        root=False,
    )


# intent -> (pattern over the request, builder). Order is the order tasks run in.
INTENTS: list[tuple[str, str, Callable[[Request, Built], None]]] = [
    ("upgrade", r"обнов\w* (?:все |всех )?(?:пакет|систем|сервер)|upgrade|update (?:all|the) packages|патч|patch(?:ing)? (?:the )?(?:servers|hosts)", upgrade),
    ("install", r"установ|постав(?:ь|ить)|инсталл|\binstall", install),
    ("user", r"пользовател|учётн\w* запис|учетн\w* запис|\busers?\b|account", user),
    ("directory", r"каталог|директори|папк|directory|folder", directory),
    ("download", r"скача|загрузи\w* (?:файл|архив)|download|get_url", download),
    ("git", r"\bgit\b|репозитори|clone|склонир|checkout|деплой|deploy", git),
    ("config", r"конфиг|конфигурац|config|шаблон|template", config),
    ("ssh_passwords", r"ssh\w*.{0,40}парол|парол\w*.{0,40}ssh|password ?auth|ssh.{0,40}password", ssh_passwords),
    ("service", r"запуст|автозапуск|включ\w* (?:сервис|служб)|\bstart\b|\benable\b|сервис|служб|\bservice\b", service),
    ("cron", r"\bcron\b|крон|по расписанию|schedule|nightly|ежедневн|каждую ночь|каждый день", cron),
    ("restart", r"перезапус|рестарт|\brestart|rolling|поочерёдн|поочередн", restart),
    ("reboot", r"перезагруз|reboot|ребут", reboot),
    ("healthcheck", r"health|хелсчек|провер\w* (?:доступност|здоров|работ)|smoke", healthcheck),
]  # fmt: skip
