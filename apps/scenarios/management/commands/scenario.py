"""`manage.py scenario analyze|list`: a scenario's deterministic half without browser or model.

  scenario list
  scenario analyze SLUG [FILE|-] [--json] [scenario options]

Exit status: 0 when no finding is an error, 1 when one is, 2 when the input is not what the
scenario reads (the reason goes to stderr). Teams run this in merge-request pipelines, so the
JSON shape ({"findings": [{severity, rule, message, line, evidence, …}], …facts}) is stable.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis, InputError
from apps.scenarios.engine.runner import ToolMissing


def human(analysis: Analysis, name: str) -> str:
    lines = []
    for f in analysis.findings:
        where = f"{name}:{f.line}" if f.line else (f.where or name)
        lines.append(f"{where}: {f.severity} [{f.rule}] {f.message}")
        if f.evidence:
            lines.append(f"    {f.evidence}")
        if f.fix:
            lines.append(f"    fix: {f.fix}")
    if not analysis.findings:
        lines.append(f"{name}: no findings")
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Run a scenario's analysis and checks on a file and print the findings."
    requires_system_checks: list[str] = []  # a CI job runs this; keep it quick

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="the scenarios that can analyze input")
        analyze = sub.add_parser("analyze", help="print a scenario's findings")
        per_slug = analyze.add_subparsers(dest="slug", required=True, metavar="SLUG")
        for slug, scenario in sorted(registry.available().items()):
            p = per_slug.add_parser(slug, help=str(scenario.summary))
            p.add_argument("--json", action="store_true", help="print JSON")
            scenario.add_arguments(p)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for slug, scenario in sorted(registry.available().items()):
                self.stdout.write(f"{slug}\t{scenario.title}")
            return
        scenario = registry.get(options["slug"])
        try:
            text, params = scenario.cli_input(options)
            analysis = scenario.analyze(text, params)
        except InputError as exc:
            self.stderr.write(f"{scenario.slug}: {exc}")
            sys.exit(2)
        except ToolMissing as exc:
            self.stderr.write(f"{scenario.slug}: {exc}")
            sys.exit(2)
        if options["json"]:
            self.stdout.write(json.dumps(analysis.to_dict(), ensure_ascii=False, indent=2))
        else:
            name = options.get("file") if isinstance(options.get("file"), str) else scenario.slug
            self.stdout.write(human(analysis, "<stdin>" if name == "-" else str(name)))
        sys.exit(1 if analysis.failed else 0)
