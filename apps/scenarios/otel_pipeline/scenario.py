"""The telemetry pipeline debugger: an OpenTelemetry Collector or Data Prepper configuration
(told apart by its content), pasted error logs, or both.

No collector binary ships with the portal: the structural checker is the check. When the
admin sets OTELCOL_BINARY, `otelcol validate` runs too, in the sandbox, and its own
message is a finding."""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from apps.scenarios.engine import runner, yamlsafe
from apps.scenarios.engine.base import Analysis, InputError, Scenario, check_size, read_input_file
from apps.scenarios.engine.checks import Block, Check, Verdict
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.otel_pipeline import collector, dataprepper, logcatalog
from apps.scenarios.otel_pipeline.forms import OtelForm

KINDS = ("collector", "data-prepper", "logs")
# otelcol's "Error: ..." and the detail lines under it, up to its closing log line.
_ERROR_LINE = re.compile(r"^Error: (?P<msg>.+(?:\n(?!\d{4}/\d\d/\d\d |Error: ).*)*)", re.M)
_REFERENCE = re.compile(
    r"service::pipelines::(?P<pid>[\w/.-]+): references (?P<what>\w+) \"?(?P<id>[\w/.-]+)\"?"
)


def detect(text: str) -> str:
    """collector, data-prepper or logs, from the content."""
    yamlsafe.guard(text)
    if yamlsafe.syntax_problem(text) is None:
        docs = yamlsafe.load(text)
        root = docs[0] if docs else None
        if root is not None and yamlsafe.is_map(root):
            if collector.looks_like(root):
                return "collector"
            if dataprepper.looks_like(root):
                return "data-prepper"
    elif re.search(r"^\s*(receivers|exporters|service)\s*:", text, re.M):
        return "collector"  # a collector config with a YAML error: report the error
    elif re.search(r"^[\w-]+:\s*\n\s+(source|sink)\s*:", text, re.M):
        return "data-prepper"
    return "logs"


def _config_root(text: str) -> Any:
    docs = yamlsafe.load(text)  # InputError with the line for malformed YAML
    if not docs or not yamlsafe.is_map(docs[0]):
        raise InputError(_("the configuration must be a YAML mapping"), line=1, field="text")
    return docs[0]


def validate_with_binary(text: str, found: list[Finding]) -> list[Finding]:
    """`otelcol validate` on the config when OTELCOL_BINARY is set: its own errors, placed on
    the line our checker found for the same path when it can."""
    binary = getattr(settings, "OTELCOL_BINARY", "")
    if not binary:
        return []
    result = runner.run(
        [binary, "validate", "--config=file:{dir}/config.yaml"],
        {"config.yaml": text},
        timeout=30,
        memory_mb=2048,
    )
    if result.ok:
        return []
    return validate_findings(result.clean(result.stderr + "\n" + result.stdout), found)


def validate_findings(output: str, found: list[Finding]) -> list[Finding]:
    """otelcol's own errors as findings, each on the line our checker found for the same
    reference when there is one."""
    out = []
    messages = [" ".join(m["msg"].split())[:1000] for m in _ERROR_LINE.finditer(output)]
    messages = messages or [output.strip()[-1000:]]
    for msg in messages:
        line = None
        ref = _REFERENCE.search(msg)
        if ref:
            line = next(
                (
                    f.line
                    for f in found
                    if f.rule == "otel.not-configured"
                    and f.where == f"service::pipelines::{ref['pid']}"
                    and f.data.get("id") == ref["id"]
                ),
                None,
            )
        out.append(
            Finding(
                Severity.ERROR,
                "otel.otelcol-validate",
                f"otelcol validate: {msg}",
                line=line,
                evidence=output.strip()[-2000:],
                refs=("otelcol validate", collector.DOCS_CONFIG),
            )
        )
    return out


def check_config(text: str, kind: str) -> Analysis:
    root = _config_root(text)
    if kind == "collector":
        findings = collector.check(root)
        findings += validate_with_binary(text, findings)
    else:
        findings = dataprepper.check(root)
    binary = bool(getattr(settings, "OTELCOL_BINARY", ""))
    facts: dict[str, Any] = {"kind": kind, "validated_by_otelcol": binary and kind == "collector"}
    grounding = sorted({r for f in findings for r in f.refs})[:20]
    return Analysis(findings, facts=facts, grounding=grounding)


class OtelPipelineScenario(Scenario):
    slug = "otel-pipeline"
    title = gettext_lazy("Telemetry pipelines")
    summary = gettext_lazy(
        "Debug OpenTelemetry Collector and Data Prepper pipelines from configs and errors."
    )
    tools: ClassVar[tuple[str, ...]] = ()
    form_class = OtelForm
    input_help = gettext_lazy(
        "An OpenTelemetry Collector config (otelcol.yaml) or Data Prepper pipelines.yaml, "
        "told apart by content; or error logs alone. Logs from the same pipeline can go in "
        "their own box below the config."
    )
    instruction = (
        "Explain the findings below to the engineer who runs this telemetry pipeline: what "
        "each means for the data, and the exact configuration change, citing the sources. "
        "If you propose a corrected configuration, give the whole file in one YAML block. Do "
        "not add problems that are not in the findings."
    )

    def analyze(self, text: str, params: Mapping[str, Any]) -> Analysis:
        check_size(text)
        logs = str(params.get("logs") or "")
        if logs:
            try:
                check_size(logs)
            except InputError as exc:
                raise InputError(exc.message, field="logs") from None
        if not text.strip() and not logs.strip():
            raise InputError(_("paste a configuration or log lines"), field="text")
        kind = str(params.get("kind") or "") or (detect(text) if text.strip() else "logs")
        if kind not in KINDS:
            raise InputError(_("unknown kind %(k)s") % {"k": kind}, field="kind")
        if kind == "logs":
            findings = logcatalog.match(text + ("\n" + logs if logs else ""))
            analysis = Analysis(
                findings, facts={"kind": "logs", "log_lines": len(text.splitlines())}
            )
        else:
            analysis = check_config(text, kind)
            if logs:
                log_findings = logcatalog.match(logs)
                # Log lines are numbered within the logs, not the config: keep them apart.
                analysis.facts["log_findings"] = [f.to_dict() for f in log_findings]
                moved = [
                    dataclasses.replace(
                        f, line=None, where=_("logs, line %(n)d") % {"n": f.line or 0}
                    )
                    for f in log_findings
                ]
                analysis = Analysis(analysis.findings + moved, facts=analysis.facts)
        analysis.grounding = sorted({r for f in analysis.findings for r in f.refs})[:20]
        analysis.facts["detected"] = not params.get("kind")
        if logs and kind != "logs":
            analysis.facts["log_lines"] = len(logs.splitlines())
        analysis.facts["log_matches"] = sum(f.rule.startswith("log.") for f in analysis.findings)
        return analysis

    def check_block(self, block: Block, analysis: Analysis) -> Check | None:
        """A configuration the model proposed, checked again by the same checker (and
        otelcol validate when configured): ready with 0 errors, otherwise what remains and
        what the patch brought in, each with its line."""
        from apps.scenarios.otel_pipeline import output_check

        if block.lang.strip().lower() not in output_check.LANGS:
            return None
        try:
            kind = detect(block.code)
        except InputError as exc:
            return Check(
                block.index, block.lang, block.code, Verdict.FAILED, output_check.TOOL, str(exc)
            )
        if kind == "logs":
            return None
        try:
            result = self.check_output(block.code, {"kind": kind}, analysis)
        except InputError as exc:
            return Check(
                block.index, block.lang, block.code, Verdict.FAILED, output_check.TOOL, str(exc)
            )
        fixed = ", ".join(result["fixed"])
        if result["ok"]:
            message = _("0 errors.")
            if fixed:
                message += " " + _("Fixed: %(rules)s.") % {"rules": fixed}
            return Check(
                block.index, block.lang, block.code, Verdict.PASSED, output_check.TOOL, message
            )
        n = result["errors"]
        lines = [ngettext("%(n)d error remains:", "%(n)d errors remain:", n) % {"n": n}]
        errors = [
            (f, f in result["new"])
            for f in result["remaining"] + result["new"]
            if Severity(f["severity"]).blocking
        ]
        for f, new in sorted(errors, key=lambda e: e[0].get("line") or 0)[:10]:
            where = _("line %(n)d: ") % {"n": f["line"]} if f.get("line") else ""
            lines.append(f"- {where}{f['message']}" + (" " + _("(new)") if new else ""))
        if fixed:
            lines.append(_("Fixed: %(rules)s.") % {"rules": fixed})
        return Check(
            block.index,
            block.lang,
            block.code,
            Verdict.FAILED,
            output_check.TOOL,
            "\n".join(lines),
        )

    def check_output(
        self, text: str, params: Mapping[str, Any], before: Analysis
    ) -> dict[str, Any]:
        """A configuration the model proposed, checked again: what remains and what is new."""
        kind = str(params.get("kind") or before.facts.get("kind") or "")
        after = self.analyze(text, {"kind": "" if kind == "logs" else kind})
        key = lambda f: (f.rule, f.message)  # noqa: E731
        old = {key(f) for f in before.findings}
        errors = [f for f in after.findings if f.severity.blocking]
        return {
            "ok": not errors,
            "errors": len(errors),
            "remaining": [f.to_dict() for f in after.findings if key(f) in old],
            "new": [f.to_dict() for f in after.findings if key(f) not in old],
            "fixed": sorted({r for r, _m in old - {key(f) for f in after.findings}}),
        }

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--kind", choices=KINDS, help="what FILE is (default: detected)")
        parser.add_argument("--logs", help="a file of log lines to match as well")

    def cli_input(self, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"kind": options.get("kind") or ""}
        if options.get("logs"):
            params["logs"] = read_input_file(options["logs"])
        return read_input_file(options.get("file")), params
