"""From parsed health output to findings: one per health code, worst first, linked to the
codes in the same input that explain it, each citing its section of the reference."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.ceph_health import codes
from apps.scenarios.ceph_health.codes import HealthCode, Impact
from apps.scenarios.ceph_health.parse import Check, Report
from apps.scenarios.engine.base import Analysis
from apps.scenarios.engine.findings import Finding, Severity

# OSDMAP_FLAGS is about availability only when one of these flags is set.
_IO_STOPPING_FLAGS = {"pause", "pauserd", "pausewr", "full"}
_ENTITY = re.compile(r"\b(?:osd|mon|mgr|mds)\.[\w-]+|\bpg \d+\.[0-9a-f]+|\bhost \S+")
_TRUNCATED = re.compile(r"left out for brevity|^\d+ more pgs|^\.\.\.$")


def _flags(check: Check) -> set[str]:
    m = re.match(r"^([a-z_,-]+) flag\(s\) set", check.summary)
    return set(m.group(1).split(",")) if m else set()


def severity(check: Check, entry: HealthCode | None) -> Severity:
    if check.muted:
        return Severity.INFO
    if entry is not None and (
        entry.impact == Impact.AVAILABILITY
        or (entry.code == "OSDMAP_FLAGS" and _flags(check) & _IO_STOPPING_FLAGS)
    ):
        return Severity.CRITICAL
    ceph = check.severity or (entry.severity if entry else "HEALTH_WARN")
    if ceph == "HEALTH_ERR":
        return Severity.ERROR
    return Severity.WARNING if ceph == "HEALTH_WARN" else Severity.INFO


def _commands(entry: HealthCode) -> str:
    parts = [
        _("Safe to run first: %(commands)s.")
        % {"commands": "; ".join(f"`{c}`" for c in entry.safe)}
    ]
    if entry.care:
        cared = "; ".join(f"`{c.command}` ({c.note})" for c in entry.care)
        parts.append(_("Needs care, not a first step: %(commands)s.") % {"commands": cared})
    return " ".join(parts)


def _entities(detail: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for line in detail:
        for m in _ENTITY.findall(line):
            seen.setdefault(m, None)
    return list(seen)


def _links(report: Report) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """For each code in the input: the codes in the input that explain it, and the ones it
    explains. Only codes that are in the input are ever named."""
    present = [c.code for c in report.checks if not c.muted]
    explained_by: dict[str, list[str]] = {code: [] for code in present}
    explains: dict[str, list[str]] = {code: [] for code in present}
    for code in present:
        entry = codes.lookup(code)
        if entry is None:
            continue
        for other in present:
            if other != code and codes.canonical(other) in entry.explained_by:
                explained_by[code].append(other)
                explains[other].append(code)
    return explained_by, explains


def _known(
    check: Check, entry: HealthCode, report: Report, links: tuple[dict[str, list[str]], ...]
) -> Finding:
    explained_by, explains = (links[0].get(check.code, []), links[1].get(check.code, []))
    why = [str(entry.meaning)]
    if explained_by:
        why.append(
            _("Likely explained by %(codes)s in the same output.")
            % {"codes": ", ".join(explained_by)}
        )
    if explains:
        why.append(
            _("It likely causes %(codes)s in the same output.") % {"codes": ", ".join(explains)}
        )
    if check.muted:
        why.append(_("The check is muted."))
    if check.source == "summary":
        why.append(
            _("Recognised from its summary; `ceph health detail` shows the code and the details.")
        )
    message = f"{check.code}: {check.summary}" if check.summary else check.code
    refs = (check.code,) if check.code == entry.code else (check.code, entry.code)
    entities = _entities(check.detail)
    data: dict[str, Any] = {
        "code": check.code,
        "ceph_severity": check.severity or entry.severity,
        "summary": check.summary,
        "count": check.count,
        "detail": check.detail,
        "detail_truncated": any(_TRUNCATED.search(d) for d in check.detail),
        "muted": check.muted,
        "source": check.source,
        "impact": entry.impact.name.lower(),
        "affected": entities,
        "safe": list(entry.safe),
        "care": [{"command": c.command, "note": str(c.note)} for c in entry.care],
        "explained_by": explained_by,
        "explains": explains,
        "cite": {
            "doc": codes.DOC_PATH,
            "sections": list(entry.sections),
            "url": f"{codes.DOC_URL}#{entry.anchor}",
        },
    }
    pg_counts = {state: int(n) for n, state in re.findall(r"(\d+) pgs? ([a-z_]+)", check.summary)}
    if pg_counts:
        data["pg_counts"] = pg_counts
    return Finding(
        severity=severity(check, entry),
        rule=f"ceph.{check.code}",
        message=message,
        line=check.line,
        evidence=check.evidence,
        where=", ".join(entities[:8]),
        why=" ".join(why),
        fix=f"{entry.check_first} {_commands(entry)}",
        refs=refs,
        data=data,
    )


def _unknown(check: Check) -> Finding:
    return Finding(
        severity=severity(check, None),
        rule="ceph.unknown-code",
        message=_(
            "%(code)s is not in the health-check reference: shown as Ceph reported it, not explained."
        )
        % {"code": check.code},
        line=check.line,
        evidence=check.evidence,
        why=_(
            "Codes outside the monitor and manager reference (MDS, cephadm, newer releases) are not "
            "explained here, so that no explanation is guessed."
        ),
        data={
            "code": check.code,
            "ceph_severity": check.severity,
            "summary": check.summary,
            "detail": check.detail,
            "muted": check.muted,
        },
    )


def analysis(report: Report) -> Analysis:
    links = _links(report)
    findings: list[Finding] = []
    grounding: list[str] = []
    for check in report.checks:
        entry = codes.lookup(check.code)
        if entry is None:
            findings.append(_unknown(check))
            continue
        finding = _known(check, entry, report, links)
        findings.append(finding)
    for line, text in report.unrecognised:
        findings.append(
            Finding(
                severity=Severity.WARNING,
                rule="ceph.unrecognised-summary",
                message=_("A health summary names no code the reference knows: %(text)s")
                % {"text": text},
                line=line,
                evidence=text,
                fix=_("Run `ceph health detail` to see the code of this check."),
            )
        )
    if not report.checks and not report.unrecognised:
        if report.status == "HEALTH_OK":
            message = _("The cluster reports HEALTH_OK: no health check is failing.")
        else:
            message = _(
                "The cluster reports %(status)s but the input names no check; paste `ceph health detail`."
            ) % {"status": report.status}
        findings.append(
            Finding(
                severity=Severity.INFO,
                rule=f"ceph.{report.status}",
                message=message,
                line=report.status_line,
                evidence=report.status,
            )
        )
    if report.ignored:
        first = report.ignored[0]
        findings.append(
            Finding(
                severity=Severity.INFO,
                rule="ceph.lines-not-read",
                message=_(
                    "Lines that are not health or status output were not read: %(count)d (first: line %(line)d)."
                )
                % {"count": len(report.ignored), "line": first},
                line=first,
            )
        )
    result = Analysis(findings, facts=_facts(report))
    for finding in result.findings:  # worst first, as shown
        for ref in finding.refs:
            if ref not in grounding:
                grounding.append(ref)
    result.grounding = grounding
    return result


def _facts(report: Report) -> dict[str, Any]:
    states = dict(report.pg_states)
    source = "status"
    if not states and report.detail_pg_states:
        source = "detail"
        for state in report.detail_pg_states.values():
            states[state] = states.get(state, 0) + 1
    # Detail lists at most mon_health_max_detail PGs: only status output gives the total.
    total = report.pgs_total
    not_clean = sum(n for s, n in states.items() if not {"active", "clean"} <= set(s.split("+")))
    flags: dict[str, int] = {}
    for state, n in states.items():
        for flag in state.split("+"):
            flags[flag] = flags.get(flag, 0) + n
    return {
        "health": report.status,
        "forms": report.forms,
        "codes": report.codes(),
        "muted": report.muted,
        "pgs": {
            "total": total,
            "states": dict(sorted(states.items(), key=lambda kv: -kv[1])),
            "by_flag": dict(sorted(flags.items(), key=lambda kv: -kv[1])),
            "not_active_clean": not_clean if states else None,
            "counted_from": source if states else None,
        },
        "cluster": report.cluster,
        "lines_not_read": report.ignored,
    }
