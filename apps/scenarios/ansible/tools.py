"""ansible-playbook --syntax-check, yamllint and ansible-lint on a pasted file, in the sandbox.

The three run in one runner call (sandbox_check.py, see there why); their output is turned
into findings with the tool's own message, file:line:column and excerpt.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine import runner
from apps.scenarios.engine.findings import Finding, Severity

DRIVER = Path(__file__).with_name("sandbox_check.py")
PROFILES = ("min", "basic", "moderate", "safety", "shared", "production")

# yamllint settings that agree with ansible-lint's own yaml rule (its documented
# recommendation), so the two tools do not contradict each other.
YAMLLINT_CONFIG = """\
extends: default
rules:
  comments:
    min-spaces-from-content: 1
  comments-indentation: false
  braces:
    max-spaces-inside: 1
  document-start: disable
  line-length:
    max: 160
    level: warning
  octal-values:
    forbid-implicit-octal: true
    forbid-explicit-octal: true
  truthy:
    allowed-values: ["true", "false"]
    check-keys: false
"""

# What a tasks or handlers file is wrapped in for the syntax check (a bare task list is not
# a playbook). Line numbers in errors still point into the user's file.
_TASKS_WRAPPER = """\
- name: Syntax check of the tasks file
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Tasks under review
      ansible.builtin.import_tasks: {path}
"""

_SYNTAX_ORIGIN = re.compile(r"^Origin: (?P<file>[^\n]+?):(?P<line>\d+)(?::(?P<col>\d+))?$", re.M)
_YAMLLINT_LINE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): \[(?P<level>\w+)\] (?P<msg>.*?)(?: \((?P<rule>[\w-]+)\))?$",
    re.M,
)
_UNRESOLVED = re.compile(r"couldn't resolve module/action '(?P<collection>[\w]+\.[\w]+)\.[\w.]+'")
_ROLE_MISSING = re.compile(r"the role '(?P<role>[^']+)' was not found", re.I)
_LINT_PASSED_PROFILE = re.compile(r"Last profile that met the validation criteria was '(\w+)'")


@dataclass
class ToolRun:
    """The findings of the three tools and what a page shows about each run."""

    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


def file_names(kind: str) -> tuple[str, str]:
    """(the user's file, the playbook the syntax check loads) inside the sandbox."""
    if kind == "tasks":
        return "tasks/main.yml", "syntax-check.yml"
    if kind == "handlers":
        return "handlers/main.yml", "syntax-check.yml"
    if kind == "vars":
        return "vars/main.yml", ""
    if kind == "meta":
        return "meta/main.yml", ""
    return "playbook.yml", "playbook.yml"


# The ansible environment of every sandboxed run, reviews and the warm-up alike.
ANSIBLE_ENV = {
    "ANSIBLE_HOME": "{dir}/.ansible",
    "ANSIBLE_LOCAL_TEMP": "{dir}/.ansible/tmp",
    "ANSIBLE_CONFIG": "{dir}/ansible.cfg",
    "XDG_CACHE_HOME": "{dir}/.cache",
    "XDG_CONFIG_HOME": "{dir}/.config",
}
_ANSWERS: list[str] = []  # the warm-up's JSON, once per process


def installation_answers() -> str:
    """What ansible-lint asks ansible about the installation (`ansible-config dump`,
    `ansible --version`, `ansible-doc -t become`), answered once per process by a sandboxed
    run that is given no user input (sandbox_check.py --warm); "" when that run failed, and
    then each review asks ansible itself as before."""
    if not _ANSWERS:
        files: dict[str, str | bytes] = {"sandbox_check.py": DRIVER.read_text(), "ansible.cfg": ""}
        argv = ["python", "sandbox_check.py", "--warm"]
        result = runner.run(argv, files, timeout=60, env=ANSIBLE_ENV, memory_mb=3072)
        try:
            answers = json.loads(result.stdout) if result.ok else None
        except json.JSONDecodeError:
            answers = None
        if not isinstance(answers, list) or not all(a.get("rc") == 0 for a in answers):
            return ""
        _ANSWERS.append(json.dumps(answers))
    return _ANSWERS[0]


def run_tools(text: str, kind: str, *, profile: str = "", timeout: float = 60.0) -> ToolRun:
    name, syntax_path = file_names(kind)
    files: dict[str, str | bytes] = {
        name: text,
        "sandbox_check.py": DRIVER.read_text(),
        ".yamllint": YAMLLINT_CONFIG,
        "ansible.cfg": "",
    }
    answers = installation_answers()
    if answers:
        files["ansible-answers.json"] = answers
    tools = ["syntax", "yamllint", "lint"]
    if kind in ("tasks", "handlers"):
        files[syntax_path] = _TASKS_WRAPPER.format(path=name)
    if kind in ("vars", "meta"):
        tools.remove("syntax")  # not loadable as a playbook
    argv = ["python", "sandbox_check.py", name, "--syntax-path", syntax_path or name]
    argv += ["--tools", ",".join(tools)]
    if profile:
        argv += ["--profile", profile]
    if answers:
        argv += ["--answers", "ansible-answers.json"]
    result = runner.run(argv, files, timeout=timeout, env=ANSIBLE_ENV, memory_mb=3072)
    run = ToolRun()
    run.facts["tool_seconds"] = round(result.seconds, 3)
    if result.timed_out or not result.stdout.strip().startswith("{"):
        detail = result.clean(result.stderr or result.stdout).strip()[-2000:]
        run.findings.append(
            Finding(
                Severity.ERROR,
                "ansible.tools-failed",
                _("The checks did not finish in %(s)d s; nothing was checked by the tools.")
                % {"s": int(timeout)}
                if result.timed_out
                else _("The checkers stopped with an error; nothing was checked by the tools."),
                evidence=detail,
            )
        )
        return run
    raw = json.loads(result.stdout)
    run.facts["tools"] = {
        t: {"rc": raw[t]["rc"], "seconds": raw[t]["seconds"]} for t in tools if t in raw
    }
    if "syntax" in raw:
        run.findings += syntax_findings(result.clean(raw["syntax"]["stderr"]), raw["syntax"]["rc"])
        run.facts["syntax_ok"] = raw["syntax"]["rc"] == 0
    run.findings += yamllint_findings(result.clean(raw["yamllint"]["stdout"]))
    lint_findings, passed = ansible_lint_findings(
        result.clean(raw["lint"]["stdout"]), result.clean(raw["lint"]["stderr"]), raw["lint"]["rc"]
    )
    if "syntax" in raw:
        # ansible-lint runs the same `ansible-playbook --syntax-check`: one finding is enough.
        lint_findings = [
            f
            for f in lint_findings
            if not f.rule.startswith("ansible-lint.syntax-check")
            and not (f.rule.startswith("ansible-lint.load-failure") and raw["syntax"]["rc"])
        ]
    run.findings += lint_findings
    run.facts["lint_profile_passed"] = passed
    return run


def syntax_findings(stderr: str, rc: int) -> list[Finding]:
    """`ansible-playbook --syntax-check` output: its [ERROR] message, the Origin
    file:line:column and the excerpt it prints under it."""
    if rc == 0:
        return []
    text = stderr.strip()
    body = text.split("[ERROR]:", 1)[1] if "[ERROR]:" in text else text
    message = body.strip().splitlines()[0] if body.strip() else _("syntax check failed")
    origin = _SYNTAX_ORIGIN.search(text)
    severity, rule = Severity.ERROR, "ansible.syntax-check"
    why = _("ansible-playbook refuses to run a playbook that does not load.")
    fix = _("Correct the line shown; the excerpt marks the column.")
    missing = _UNRESOLVED.search(message)
    role = _ROLE_MISSING.search(message)
    if role:
        severity, rule = Severity.WARNING, "ansible.role-missing"
        why = _(
            "The role %(r)s is not part of the pasted file, so the syntax check and "
            "ansible-lint stopped here; the rest of the file was not checked by them."
        ) % {"r": role["role"]}
        fix = _("Review the role in its own repository; paste its tasks file to check it here.")
    if missing and missing["collection"] not in ("ansible.builtin", "ansible.legacy"):
        # Not the playbook's fault: the portal has ansible-core only. Worth saying, not a failure.
        severity, rule = Severity.WARNING, "ansible.collection-missing"
        why = _(
            "The collection %(c)s is not installed where the review runs, so the syntax check "
            "and ansible-lint stopped here and the rest of the file was not checked by them."
        ) % {"c": missing["collection"]}
        fix = _("Make sure requirements.yml pins %(c)s; review the tasks after it by hand.") % {
            "c": missing["collection"]
        }
    line = int(origin["line"]) if origin else None
    where = ""
    if origin:
        where = f"{origin['file']}:{origin['line']}" + (
            f":{origin['col']}" if origin["col"] else ""
        )
    return [
        Finding(
            severity,
            rule,
            f"ansible-playbook --syntax-check: {message}",
            line=line,
            where=where,
            evidence=body.strip()[:4000],
            why=why,
            fix=fix,
            refs=("ansible-playbook --syntax-check", "playbooks_intro"),
        )
    ]


def yamllint_findings(stdout: str) -> list[Finding]:
    out = []
    for m in _YAMLLINT_LINE.finditer(stdout):
        rule = m["rule"] or "syntax"
        sev = Severity.ERROR if m["level"] == "error" else Severity.WARNING
        if rule == "syntax":
            sev = Severity.ERROR
        out.append(
            Finding(
                sev,
                f"yamllint.{rule}",
                f"yamllint: {m['msg']}",
                line=int(m["line"]),
                where=f"{m['file']}:{m['line']}:{m['col']}",
                fix=_("See the yamllint rule %(rule)s.") % {"rule": rule},
                refs=(f"yamllint {rule}",),
                data={"column": int(m["col"])},
            )
        )
    return out


# ansible-lint rules that mean the file is broken or unsafe, not merely unidiomatic.
_LINT_ERRORS = {
    "syntax-check",
    "load-failure",
    "internal-error",
    "parser-error",
    "no-log-password",
    "partial-become",
    "risky-file-permissions",
    "risky-shell-pipe",
    "command-instead-of-shell",
}


def ansible_lint_findings(stdout: str, stderr: str, rc: int) -> tuple[list[Finding], str | None]:
    """ansible-lint's codeclimate JSON, and the strictest profile the file met."""
    try:
        issues = json.loads(stdout) if stdout.strip() else []
    except json.JSONDecodeError:
        issues = None
    passed = _LINT_PASSED_PROFILE.search(stderr)
    if issues is None or (rc not in (0, 2) and not issues):
        return [
            Finding(
                Severity.ERROR,
                "ansible-lint.failed",
                _("ansible-lint stopped with an error."),
                evidence=(stderr or stdout).strip()[-2000:],
            )
        ], None
    out = []
    for issue in issues:
        check = str(issue.get("check_name", "ansible-lint"))
        base = check.split("[", 1)[0]
        loc = issue.get("location", {})
        line = (loc.get("lines") or {}).get("begin") or (
            (loc.get("positions") or {}).get("begin") or {}
        ).get("line")
        col = ((loc.get("positions") or {}).get("begin") or {}).get("column")
        where = f"{loc.get('path', '')}:{line}" + (f":{col}" if col else "") if line else ""
        sev = Severity.ERROR if base in _LINT_ERRORS else Severity.WARNING
        if issue.get("severity") == "minor" and base not in _LINT_ERRORS:
            sev = Severity.INFO
        body = (issue.get("content") or {}).get("body", "")
        out.append(
            Finding(
                sev,
                f"ansible-lint.{check}",
                f"ansible-lint {check}: {issue.get('description', '')}",
                line=int(line) if line else None,
                where=where,
                evidence=str(body),
                fix=str(issue.get("url", "")),
                refs=(base, f"ansible-lint {base}"),
            )
        )
    if not out and passed is None and rc == 0:
        return out, "production"
    return out, passed.group(1) if passed else None
