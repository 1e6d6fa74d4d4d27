"""A playbook from a task description: vetted templates chosen by intent, filled with the
values the request names, then the same check as a review (syntax-check, yamllint,
ansible-lint at the chosen profile, the risk rules). Only a playbook that passes is
offered as ready; otherwise it is shown with its violations."""

from __future__ import annotations

import re
from typing import Any

import yaml
from django.utils.translation import gettext as _

from apps.scenarios.ansible import templates as t
from apps.scenarios.ansible.scenario import review
from apps.scenarios.engine.base import Analysis, InputError
from apps.scenarios.engine.findings import Finding, Severity

MAX_REQUEST = 2000
_STOP = {
    "и", "а", "также", "на", "в", "во", "с", "со", "для", "по", "все", "всех", "пакет", "пакеты",
    "пакетов", "and", "on", "the", "a", "an", "to", "with", "for", "all", "package", "packages",
    "then", "потом", "затем", "сервер", "серверы", "серверах", "servers", "hosts", "хостах",
}  # fmt: skip
_BREAK = {
    "на",
    "в",
    "во",
    "для",
    "on",
    "to",
    "in",
    "for",
    "at",
    "from",
    "из",
    "с",
    "then",
    "потом",
    "затем",
}
_INSTALL = re.compile(
    r"(?:установи\w*|постав\w*|install\w*)\s+((?:[\w.+-]+(?:\s*,\s*|\s+и\s+|\s+and\s+|\s+)){1,8})",
    re.I,
)
_SERVICE = re.compile(r"(?:сервис\w*|служб\w*|service|unit)\s+([a-z0-9][a-z0-9._+-]*)", re.I)
_USER = re.compile(r"(?:пользовател\w*|user|account)\s+([a-z_][a-z0-9_-]{0,31})\b", re.I)
_HOSTS = re.compile(r"\b([A-Za-z][A-Za-z0-9-]*_?(?:servers|hosts|nodes))\b")
_HOSTS_NAMED = re.compile(r"(?:групп\w*|group|hosts:)\s+([A-Za-z][A-Za-z0-9_-]*)")
_PATH = re.compile(r"(/[A-Za-z0-9._/-]{1,200})")
_URL = re.compile(r"(https://\S+)")


class _Dumper(yaml.SafeDumper):
    """Block lists indented under their key, as yamllint and ansible-lint expect."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def read_request(text: str) -> t.Request:
    text = text.strip()
    if not text:
        raise InputError(
            _('describe the task, e.g. "install nginx on webservers and start it"'), field="text"
        )
    if len(text) > MAX_REQUEST:
        raise InputError(
            _("the description is longer than %(n)d characters") % {"n": MAX_REQUEST}, field="text"
        )
    r = t.Request(text)
    low = text.lower()
    for pattern in (_HOSTS_NAMED, _HOSTS):  # "group web" first, then any "*_servers" word
        m = pattern.search(text)
        if m and t.GROUP.match(m.group(1)) and m.group(1).lower() not in _STOP | {"all"}:
            r.hosts = m.group(1)
            break
    if m := _INSTALL.search(low):
        for word in re.split(r"[\s,]+", m.group(1)):
            if word in _BREAK:
                break  # "install nginx on webservers": the list ends at "on"
            if word and word not in _STOP and t.NAME.match(word):
                r.packages.append(word)
        r.packages = r.packages[:8]
    if (m := _SERVICE.search(low)) and t.NAME.match(m.group(1)) and m.group(1) not in _STOP:
        r.service = m.group(1)
    if not r.service and len(r.packages) == 1:
        r.service = r.packages[0]
    if (m := _USER.search(low)) and m.group(1) not in _STOP:
        r.user = m.group(1)
    if (m := _PATH.search(text)) and t.PATH.match(m.group(1)) and ".." not in m.group(1):
        r.path = m.group(1).rstrip("/.")
    if m := _URL.search(text):
        url = m.group(1).rstrip(".,;)")
        if t.URL.match(url):
            r.url = url
    return r


def build(r: t.Request) -> tuple[str, t.Built, list[str]]:
    b = t.Built()
    chosen = []
    low = r.text.lower()
    for name, pattern, builder in t.INTENTS:
        if re.search(pattern, low):
            builder(r, b)
            chosen.append(name)
    if not b.tasks:
        raise InputError(
            _(
                "no known task in the description; it can install packages, start, restart or "
                "reload services, write configs, create users and directories, deploy from git, "
                "download files, schedule cron jobs, upgrade, reboot, disable SSH passwords and "
                "check health"
            ),
            field="text",
        )
    for task in b.tasks + b.handlers:
        modules = [k for k in task if k.startswith("ansible.")]
        assert modules and all(m in t.ALLOWED_MODULES for m in modules), modules
    play: dict[str, Any] = {"name": _title(r.text), "hosts": r.hosts}
    if b.restarts:
        # One batch first, then a quarter of the fleet at a time; any failure stops the run.
        play["serial"] = [1, "25%"]
        play["max_fail_percentage"] = 0
    if b.become:
        play["become"] = True
    if r.vars:
        play["vars"] = r.vars
    play["tasks"] = b.tasks
    if b.handlers:
        play["handlers"] = b.handlers
    text = yaml.dump(
        [play], Dumper=_Dumper, sort_keys=False, explicit_start=True, width=160, allow_unicode=True
    )
    return text, b, chosen


def _title(text: str) -> str:
    words = re.sub(r"[^\w\s]", " ", text.splitlines()[0]).split()
    title = ""
    for word in words:
        if len(title) + len(word) + 1 > 80:
            break
        title = f"{title} {word}".strip()
    title = title.strip(" .,-") or "Generated playbook"
    return title[0].upper() + title[1:]


def generate(text: str, *, profile: str) -> Analysis:
    r = read_request(text)
    playbook, built, intents = build(r)
    checked = review(playbook, kind="playbook", profile=profile)
    # Ready means clean: no tool violation and no risk-rule warning, not merely no error.
    ready = not [f for f in checked.findings if f.severity != Severity.INFO]
    tasks = []
    for task in built.tasks + built.handlers:
        module = next(k for k in task if k.startswith("ansible."))
        tasks.append(
            {
                "name": task["name"],
                "module": module,
                "handler": task in built.handlers,
                "explanation": str(built.explanations[task["name"]]),
            }
        )
    placeholders = sorted(k for k, v in r.vars.items() if "REPLACE_ME" in str(v))
    summary = Finding(
        Severity.INFO if ready else Severity.ERROR,
        "ansible.generated",
        _(
            "The playbook passes ansible-playbook --syntax-check, yamllint and ansible-lint (profile %(p)s): ready to use once the variables are filled in."
        )
        % {"p": profile}
        if ready
        else _(
            "The playbook does not pass the checks (profile %(p)s); it is shown with its violations and is not offered as ready."
        )
        % {"p": profile},
        evidence=playbook,
        fix=_("Fill in: %(vars)s.") % {"vars": ", ".join(placeholders)} if placeholders else "",
    )
    facts = {
        **checked.facts,
        "mode": "generate",
        "ready": ready,
        "profile": profile,
        "playbook": playbook,
        "intents": intents,
        "tasks": tasks,
        "placeholders": placeholders,
    }
    return Analysis([summary, *checked.findings], facts=facts, grounding=checked.grounding)
