"""Review: a config in, findings out (the tools' own results and the rules), no model."""

from __future__ import annotations

import time
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import Analysis
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.proxy_config import (
    haproxy_check,
    haproxy_rules,
    haproxy_security,  # noqa: F401  (registers its rules with haproxy_rules)
    nginx_check,
    nginx_prepare,
    nginx_rules,
)
from apps.scenarios.proxy_config.bundle import Bundle


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per (rule, line, message); a tool's and a rule's finding of the same
    problem on the same line keep the first (the tool's)."""
    seen: set[tuple[str, int | None, str]] = set()
    out = []
    for f in findings:
        key = (
            (f.rule, f.line, f.where)
            if f.rule.endswith("missing-timeouts")
            else (f.rule, f.line, f.message)
        )
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out


def _tool_fact(name: str, result: Any, accepted: bool | None = None) -> dict[str, Any]:
    """What a tool did, for the page and the JSON: `result` is accepted (the config passed),
    rejected, issues (gixy-ng found some), timeout or missing."""
    if result is None:
        return {"tool": name, "ran": False, "result": "missing"}
    if result.timed_out:
        verdict = "timeout"
    elif name == "gixy-ng":
        verdict = "accepted" if result.ok else "issues"
    else:
        verdict = "accepted" if (result.ok if accepted is None else accepted) else "rejected"
    return {
        "tool": name,
        "ran": True,
        "result": verdict,
        "ok": result.ok,
        "exit": result.returncode,
        "seconds": round(result.seconds, 3),
        "output": result.clean(result.stderr + result.stdout).strip()[-4000:],
    }


def review_nginx(bundle: Bundle) -> Analysis:
    prep = nginx_prepare.prepare(bundle)
    started = time.monotonic()
    nginx_result, gixy_result = nginx_check.run_tools(prep)
    tool_seconds = time.monotonic() - started
    findings = nginx_check.nginx_findings(bundle, prep, nginx_result)
    payload = nginx_check.crossplane_tree(prep)
    seen = {(f.data.get("file", bundle.main), f.data.get("file_line", f.line)) for f in findings}
    if not nginx_result.ok:
        findings += nginx_check.parse_findings(bundle, payload, seen)
    findings += nginx_check.gixy_findings(bundle, gixy_result)
    findings += nginx_rules.run(bundle, nginx_rules.build(payload))
    findings += prep.notes
    return Analysis(
        _dedupe(findings),
        facts={
            "task": "review",
            "kind": "nginx",
            "files": list(bundle.files),
            "main": bundle.main,
            "context": prep.context,
            "tools": [_tool_fact("nginx -t", nginx_result), _tool_fact("gixy-ng", gixy_result)],
            "tool_seconds": round(tool_seconds, 3),
            "checked": nginx_result.ok,
        },
        grounding=_grounding(findings, "nginx"),
    )


def review_haproxy(bundle: Bundle) -> Analysis:
    prep = haproxy_check.prepare(bundle)
    result = haproxy_check.run_tool(prep)
    findings = haproxy_check.tool_findings(bundle, prep, result)
    ordered = [s for name in prep.order for s in prep.sections[name]]
    findings += haproxy_rules.run(bundle, haproxy_rules.build(ordered))
    findings += prep.notes
    return Analysis(
        _dedupe(findings),
        facts={
            "task": "review",
            "kind": "haproxy",
            "files": list(bundle.files),
            "main": bundle.main,
            "sections": [
                {
                    "kind": s.kind,
                    "name": s.name,
                    "line": bundle.input_line(s.file, s.line),
                    "file": s.file,
                }
                for s in ordered
                if s.kind
            ],
            "tools": [_tool_fact("haproxy -c", result, haproxy_check.no_listener(result) or None)],
            "tool_seconds": round(result.seconds, 3),
            "checked": result.ok or haproxy_check.no_listener(result),
        },
        grounding=_grounding(findings, "haproxy"),
    )


def _grounding(findings: list[Finding], kind: str) -> list[str]:
    terms: list[str] = []
    for f in findings:
        if f.severity == Severity.INFO and f.rule.endswith("hosts-not-resolved"):
            continue
        for ref in f.refs:
            if not ref.startswith("http"):
                terms.append(f"{kind} {ref}")
    return list(dict.fromkeys(terms))[:12]


def review(bundle: Bundle) -> Analysis:
    analysis = review_nginx(bundle) if bundle.kind == "nginx" else review_haproxy(bundle)
    if not analysis.findings:
        analysis.facts["summary"] = _("no findings")
    return analysis
