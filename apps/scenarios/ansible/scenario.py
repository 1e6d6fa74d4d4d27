"""The Ansible scenario: review a pasted playbook or task file, or generate one from a task
description. Both end in the same check: ansible-playbook --syntax-check, yamllint and
ansible-lint in the sandbox, plus the production risk rules."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.scenarios.ansible import output_check, rules, structure, tools
from apps.scenarios.ansible.forms import AnsibleForm
from apps.scenarios.engine import yamlsafe
from apps.scenarios.engine.base import Analysis, InputError, Scenario, check_size, read_input_file
from apps.scenarios.engine.checks import Block, Check, Verdict
from apps.scenarios.engine.findings import Finding

KINDS = ("playbook", "tasks", "handlers", "vars", "meta")
# A generated playbook is offered as ready only when it meets this ansible-lint profile.
GENERATE_PROFILE = "production"
# ...and never below this one: "min" only says the file loads.
GENERATE_PROFILES = tuple(p for p in tools.PROFILES if p != "min")


def review(text: str, *, kind: str = "", profile: str = "") -> Analysis:
    """Findings for a playbook, task list or vars file; InputError for what is not read."""
    check_size(text)
    if not text.strip():
        raise InputError(_("the file is empty"), field="text")
    yamlsafe.guard(text)
    problem = yamlsafe.syntax_problem(text)
    findings: list[Finding] = []
    facts: dict[str, Any] = {}
    if problem is None:
        docs = yamlsafe.load(text)
        if not docs:
            raise InputError(_("the file holds no YAML document"), field="text")
        parsed = structure.parse(docs[0], kind)
        kind = parsed.kind
        findings += rules.check(parsed)
        facts["plays"] = len(parsed.plays)
        facts["tasks"] = len(parsed.tasks)
    else:
        # The tools print the same error with their excerpt; our rules need a parsed file.
        kind = kind or "playbook"
        facts["yaml_error"] = {"line": problem.line, "column": problem.column}
    facts["kind"] = kind
    facts["profile"] = profile
    run = tools.run_tools(text, kind, profile=profile)
    findings += run.findings
    facts.update(run.facts)
    grounding = sorted({ref for f in findings for ref in f.refs})[:20]
    return Analysis(findings, facts=facts, grounding=grounding)


class AnsibleScenario(Scenario):
    slug = "ansible"
    title = gettext_lazy("Ansible playbooks")
    summary = gettext_lazy("Generate a playbook from a task description, or review one for risks.")
    tools: ClassVar[tuple[str, ...]] = ("ansible-playbook", "ansible-lint", "yamllint")
    form_class = AnsibleForm
    input_help = gettext_lazy(
        "Review: a playbook, or one file of a role (tasks, handlers, vars, meta). Generate: "
        'what the playbook should do, in words ("установи nginx на webservers, положи '
        'конфиг и запусти сервис"). Lookups and templates in the file are never run.'
    )
    instruction = (
        "Explain the findings below to the engineer who wrote this playbook: for each, what "
        "it means on a production fleet and the exact change to make, citing the sources. "
        "When the analysis holds a generated playbook (facts.playbook), explain what each "
        "task does instead, and do not rewrite it. Quote corrected YAML only as complete "
        "tasks or plays in ```yaml fences: each is checked by ansible-playbook "
        "--syntax-check, yamllint and ansible-lint. Do not add problems that are not in the "
        "findings."
    )

    def analyze(self, text: str, params: Mapping[str, Any]) -> Analysis:
        kind = str(params.get("kind") or "")
        if kind and kind not in KINDS:
            raise InputError(_("unknown file kind %(k)s") % {"k": kind}, field="kind")
        profile = str(params.get("profile") or "")
        if profile and profile not in tools.PROFILES:
            raise InputError(
                _("unknown ansible-lint profile %(p)s") % {"p": profile}, field="profile"
            )
        # "task" is the page's and the API's field; "mode" is kept for older callers.
        task = str(params.get("task") or params.get("mode") or "review")
        if task not in ("review", "generate"):
            raise InputError(_("unknown task %(t)s") % {"t": task}, field="task")
        if task == "generate":
            from apps.scenarios.ansible import generate

            if profile and profile not in GENERATE_PROFILES:
                raise InputError(
                    _("a generated playbook must meet at least the basic profile"),
                    field="profile",
                )
            return generate.generate(text, profile=profile or GENERATE_PROFILE)
        return review(text, kind=kind, profile=profile)

    def check_block(self, block: Block, analysis: Analysis) -> Check | None:
        """A playbook or task list in the model's answer goes through the same review as a
        pasted file, at the run's profile: only what passes with no warning is ready."""
        profile = str(analysis.facts.get("profile") or GENERATE_PROFILE)
        result = output_check.check_playbook(block.code, block.lang, profile=profile)
        if result.verdict == "unchecked":
            return None if not result.message else Check.unchecked(block, result.message)
        verdict = Verdict.PASSED if result.verdict == "passed" else Verdict.FAILED
        return Check(block.index, block.lang, block.code, verdict, result.tool, result.message)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--kind", choices=KINDS, help="what the file is (default: detected)")
        parser.add_argument(
            "--profile",
            choices=tools.PROFILES,
            help="ansible-lint profile (review default: all rules; generate default: production)",
        )
        parser.add_argument(
            "--generate",
            action="store_true",
            help="FILE is a task description (Russian or English): generate a playbook and check it",
        )

    def cli_input(self, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        params = {
            "kind": options.get("kind") or "",
            "profile": options.get("profile") or "",
            "task": "generate" if options.get("generate") else "review",
        }
        return read_input_file(options.get("file")), params
