"""Findings: what a scenario's deterministic analysis says, before any model is asked.

A finding is useful on its own (a reviewer can act on it without the explanation): what is
wrong, where, the evidence line, why it matters and the fix. The same shape is printed by
`manage.py scenario analyze`, returned by the HTTP API and stored with each run, so it is a
stable contract for CI jobs that gate merge requests on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    # critical: availability is hurt now (data unavailable, a cluster down); error: this is
    # wrong and must be fixed before it ships; warning: risky; info: worth knowing.
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def blocking(self) -> bool:
        """Whether the CLI and CI treat it as a failure (exit status 1)."""
        return self in (Severity.CRITICAL, Severity.ERROR)


_RANK = {Severity.CRITICAL: 0, Severity.ERROR: 1, Severity.WARNING: 2, Severity.INFO: 3}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem or fact found in the input, with the evidence that shows it."""

    severity: Severity
    rule: str  # stable id, e.g. "nginx.alias-traversal", "ceph.PG_DEGRADED"
    message: str  # what, in one sentence
    line: int | None = None  # 1-based line in the input, when it has one
    evidence: str = ""  # the input's own line or figure
    where: str = ""  # file, section or component path ("service::pipelines::traces")
    why: str = ""  # why it matters
    fix: str = ""  # what to do
    # Exact identifiers grounding looks up (health codes, directive names, runbook URLs).
    refs: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)  # figures a page may show

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["severity"] = str(self.severity)
        out["refs"] = list(self.refs)
        out["data"] = dict(self.data)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Finding:
        return cls(
            severity=Severity(str(raw["severity"])),
            rule=str(raw["rule"]),
            message=str(raw["message"]),
            line=int(raw["line"]) if raw.get("line") is not None else None,
            evidence=str(raw.get("evidence", "")),
            where=str(raw.get("where", "")),
            why=str(raw.get("why", "")),
            fix=str(raw.get("fix", "")),
            refs=tuple(str(r) for r in raw.get("refs", ())),
            data=dict(raw.get("data", {})),
        )


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then in input order (findings without a line last)."""
    return sorted(
        findings,
        key=lambda f: (f.severity.rank, f.line if f.line is not None else 1 << 30, f.rule),
    )


def blocking(findings: Iterable[Finding]) -> bool:
    return any(f.severity.blocking for f in findings)
