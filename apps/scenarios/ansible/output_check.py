"""The check of YAML the model writes (a playbook or a task list in its explanation): the same
review a pasted file gets, so a block is offered as ready only when ansible-playbook
--syntax-check, yamllint, ansible-lint at the generation profile and the risk rules all
pass it. Anything the review refuses (a lookup at load time, an alias bomb) fails it."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from apps.scenarios.engine import yamlsafe
from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.findings import Severity
from apps.scenarios.engine.runner import ToolMissing

LANGS = {"yaml", "yml", "ansible", "playbook", ""}
TOOL = "ansible-playbook --syntax-check, yamllint, ansible-lint"


@dataclass(frozen=True)
class BlockCheck:
    """passed (ready), failed (with the first problem and its line) or unchecked (not an
    Ansible file, or the tools are missing)."""

    verdict: str
    tool: str = ""
    message: str = ""


def looks_like_ansible(code: str) -> bool:
    try:
        yamlsafe.guard(code)
    except InputError:
        return True  # refused below, with the reason
    if yamlsafe.syntax_problem(code) is not None:
        return "hosts:" in code or "tasks:" in code or "ansible." in code
    docs = yamlsafe.load(code)
    root = docs[0] if docs else None
    if not yamlsafe.is_seq(root):
        return False
    keys = {k for item in yamlsafe.seq(root) for k, _a, _b in yamlsafe.items(item)}
    return bool(keys & {"hosts", "tasks", "import_playbook", "name"}) and any(
        k.startswith("ansible.") or k in {"hosts", "tasks", "block"} for k in keys
    )


def check_playbook(code: str, lang: str = "", profile: str = "production") -> BlockCheck:
    from apps.scenarios.ansible.scenario import review

    if lang.strip().lower() not in LANGS or not looks_like_ansible(code):
        return BlockCheck("unchecked")
    try:
        analysis = review(code, profile=profile)
    except InputError as exc:
        return BlockCheck("failed", TOOL, str(exc))
    except ToolMissing as exc:
        return BlockCheck("unchecked", TOOL, str(exc))
    problems = [f for f in analysis.findings if f.severity != Severity.INFO]
    if problems:
        first = problems[0]
        where = _("line %(n)d: ") % {"n": first.line} if first.line else ""
        more = _(" (and %(n)d more)") % {"n": len(problems) - 1} if len(problems) > 1 else ""
        return BlockCheck("failed", TOOL, f"{where}{first.message}{more}")
    return BlockCheck("passed", TOOL)
