"""The deterministic triage of one alert: what fired, probable causes, first safe steps,
the runbook and similar incidents, built only from the alert, its runbook and history.

Nothing here calls a model. A cause appears only when the runbook lists it or a post-mortem
names it, ranked by what the alert itself says (its description, labels, values) and by
history; every step is the runbook's own text with the section it comes from. The model, when
one is asked, explains this triage; it never replaces it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from apps.scenarios.alert_triage import runbook as rb
from apps.scenarios.alert_triage.payload import CONTEXT_LABELS, IncomingAlert
from apps.scenarios.engine.findings import Finding, Severity

# Label values that rank a cause: words this short or this common say nothing.
_MIN_TERM = 4
MAX_SIMILAR = 5

_SEVERITY = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "p1": Severity.CRITICAL,
    "disaster": Severity.CRITICAL,
    "error": Severity.ERROR,
    "major": Severity.ERROR,
    "high": Severity.ERROR,
    "p2": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "minor": Severity.WARNING,
    "medium": Severity.WARNING,
    "p3": Severity.WARNING,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "low": Severity.INFO,
    "none": Severity.INFO,
    "p4": Severity.INFO,
}


def severity_of(label: str, status: str = "firing") -> Severity:
    if status == "resolved":
        return Severity.INFO
    return _SEVERITY.get(label.strip().lower(), Severity.WARNING)


@dataclass(frozen=True)
class DocRef:
    """A cited document: enough to link it and to decide who may see it."""

    title: str
    path: str
    link: str
    source: str
    source_id: int

    @classmethod
    def of(cls, doc: rb.Document) -> DocRef:
        return cls(doc.title, doc.path, doc.link, doc.source, doc.source_id)


@dataclass(frozen=True)
class Postmortem:
    doc: DocRef
    section: str
    excerpt: str  # the passage that names the alert
    root_cause: str  # the report's own root-cause sentence, when it has that section
    root_cause_section: str


@dataclass(frozen=True)
class SimilarAlert:
    """An earlier triage of the same alert (same alertname; same context labels rank first)."""

    id: int
    alertname: str
    status: str
    starts_at: str
    ends_at: str | None
    context: str
    same_context: bool


class Knowledge(Protocol):
    """What the triage reads: the runbook and the post-mortems, with the triage's reader's
    permissions. Implemented over the knowledge base in lookup.py."""

    def runbook(self, alert: IncomingAlert) -> tuple[rb.Document | None, str, str]:
        """(document, how it was found: "runbook_url" | "search" | "", note for the reader)."""
        ...

    def postmortems(self, alert: IncomingAlert) -> list[Postmortem]: ...


@dataclass
class Cause:
    text: str
    section: str
    origin: str  # "runbook" | "postmortem"
    doc: DocRef
    score: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class Triage:
    """The triage as stored with the alert (to_json) and shown on the page and in messages."""

    alertname: str
    status: str
    severity: str
    summary: str
    description: str
    context: dict[str, str]
    labels: dict[str, str]
    generator_url: str
    starts_at: str
    ends_at: str | None
    runbook_url: str
    runbook: DocRef | None = None
    runbook_how: str = ""
    runbook_note: str = ""
    causes: list[Cause] = field(default_factory=list)
    steps: list[rb.Step] = field(default_factory=list)
    fixes: list[rb.Step] = field(default_factory=list)
    never: list[tuple[str, str]] = field(default_factory=list)
    escalation: tuple[str, str] | None = None
    postmortems: list[Postmortem] = field(default_factory=list)
    similar: list[SimilarAlert] = field(default_factory=list)
    knowledge_error: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def context_of(labels: dict[str, str]) -> dict[str, str]:
    """The labels an on-call engineer reads first, in a fixed order."""
    keys = ("severity", "team", *CONTEXT_LABELS)
    return {k: labels[k] for k in keys if labels.get(k)}


def _alert_terms(alert: IncomingAlert) -> dict[str, str]:
    """Distinctive terms of what the alert says in prose -> the word as written (stems, so
    "OOMKilled" in a description matches "OOMKilled" in a runbook in any inflection)."""
    from apps.knowledge.search.sparse import terms

    skip = set(terms(alert.alertname)) | {"alert", "firing", "resolv"}
    # Label values quoted in a summary are names, matched whole by _identifiers, not by stem.
    values = {v.lower() for v in alert.labels.values()}
    out: dict[str, str] = {}
    for text in (alert.summary, alert.description, alert.extra.get("valueString", "")):
        for word in str(text).replace("/", " ").split():
            clean = word.strip("`'\".,;:()[]{}<>")
            if clean.lower() in values:
                continue
            for term in terms(clean):
                if len(term) >= _MIN_TERM and term not in skip and not term.isdigit():
                    out.setdefault(term, clean)
    return out


_QUOTED = re.compile(r"`([^`]+)`")
_POD_SUFFIX = re.compile(r"(-[a-z0-9]*\d[a-z0-9]*)+$")


def _identifiers(alert: IncomingAlert) -> set[str]:
    """Label values as names a runbook may mention: a pod "order-api-7c9f8d6b5-x2lqk" is
    the workload "order-api"; values are matched whole, never by stem."""
    out: set[str] = set()
    for key, value in alert.labels.items():
        if key in ("alertname", "severity", "team", "prometheus", "job") or len(value) > 100:
            continue
        for candidate in (value, _POD_SUFFIX.sub("", value)):
            if len(candidate) >= _MIN_TERM and not candidate.isdigit():
                out.add(candidate.lower())
    return out


def _named(identifiers: set[str], text: str) -> list[str]:
    low = text.lower()
    return sorted(i for i in identifiers if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", low))


def _evidence(text: str, wanted: dict[str, str], names: set[str]) -> tuple[float, list[str]]:
    """How strongly the alert's own details point at a cause's text, and the words that do.

    A word the text quotes as code (`OOMKilled`, `exec format error`) is the runbook's own
    signal, worth 1; a workload named by a label worth 1; a plain shared word 0.5. At most 2,
    so evidence reorders the runbook's list but one cause cannot drown the others."""
    from apps.knowledge.search.sparse import terms

    quoted = set(terms(" ".join(_QUOTED.findall(text))))
    present = set(terms(text))
    score = 0.0
    words: list[str] = []
    for term, word in wanted.items():
        if term in present:
            score += 1.0 if term in quoted else 0.5
            words.append(word)
    named = _named(names, text)
    score += float(len(named))
    return min(2.0, score), sorted(set(words + named))[:3]


def rank_causes(
    alert: IncomingAlert, runbook: rb.Document | None, postmortems: Sequence[Postmortem]
) -> list[Cause]:
    """Causes the runbook lists and post-mortems found, most likely first, each with why."""
    from apps.knowledge.search.sparse import terms

    wanted = _alert_terms(alert)
    names = _identifiers(alert)
    history = [(p, set(terms(p.root_cause + " " + p.excerpt))) for p in postmortems]
    causes: list[Cause] = []
    if runbook is not None:
        ref = DocRef.of(runbook)
        listed = rb.causes(runbook)
        for cause in listed:
            # The runbook's own order is the prior: runbooks list the common causes first.
            score = 1.0 - cause.order / (len(listed) + 1)
            reasons: list[str] = []
            bonus, words = _evidence(cause.text, wanted, names)
            if words:
                score += bonus
                reasons.append("alert:" + ", ".join(words))
            cause_terms = set(terms(cause.text))
            for report, report_terms in history:
                shared = {t for t in cause_terms & report_terms if len(t) >= _MIN_TERM}
                if len(shared) >= 2:
                    score += 0.5
                    reasons.append("postmortem:" + report.doc.title)
                    break
            causes.append(Cause(cause.text, cause.section, "runbook", ref, score, reasons))
    for report in postmortems:
        if report.root_cause:
            bonus, words = _evidence(report.root_cause, wanted, names)
            causes.append(
                Cause(
                    report.root_cause,
                    report.root_cause_section,
                    "postmortem",
                    report.doc,
                    0.5 + bonus,
                    ["alert:" + ", ".join(words)] if words else [],
                )
            )
    causes.sort(key=lambda c: -c.score)
    return causes


def build(
    alert: IncomingAlert,
    knowledge: Knowledge | None,
    similar: Sequence[SimilarAlert] = (),
) -> Triage:
    """The deterministic triage of `alert`; `knowledge` None means the knowledge base could
    not be read (the triage still says what fired and where)."""
    triage = Triage(
        alertname=alert.alertname,
        status=alert.status,
        severity=alert.severity,
        summary=alert.summary,
        description=alert.description,
        context=context_of(alert.labels),
        labels=dict(alert.labels),
        generator_url=alert.generator_url if alert.generator_url.startswith("http") else "",
        starts_at=alert.starts_at.isoformat(),
        ends_at=alert.ends_at.isoformat() if alert.ends_at else None,
        runbook_url=alert.runbook_url,
        similar=list(similar)[:MAX_SIMILAR],
    )
    if knowledge is None:
        return triage
    doc, how, note = knowledge.runbook(alert)
    triage.runbook_how, triage.runbook_note = how, note
    reports = knowledge.postmortems(alert)
    triage.postmortems = list(reports)
    if doc is not None:
        triage.runbook = DocRef.of(doc)
        triage.steps = rb.first_steps(doc)
        triage.fixes = rb.mitigations(doc)
        triage.never = rb.never(doc)
        triage.escalation = rb.escalation(doc)
    triage.causes = rank_causes(alert, doc, reports)
    return triage


def findings(alert: IncomingAlert, triage: Triage) -> list[Finding]:
    """The CLI's and the API's view: one finding per alert, the triage in its data."""
    context = ", ".join(f"{k}={v}" for k, v in triage.context.items() if k != "severity")
    pairs = ", ".join(f'{k}="{v}"' for k, v in sorted(alert.labels.items()))
    first = triage.steps[0] if triage.steps else None
    fix = ""
    if first is not None:
        fix = first.title + (f": {first.commands.splitlines()[0]}" if first.commands else "")
    why = triage.description or (triage.causes[0].text if triage.causes else "")
    refs = [r for r in (alert.alertname, alert.runbook_url) if r]
    if triage.runbook is not None:
        refs.append(triage.runbook.path or triage.runbook.title)
    name = alert.alertname or "unnamed"
    return [
        Finding(
            severity=severity_of(alert.severity, alert.status),
            rule=f"alert.{name}",
            message=f"{name} {alert.status}" + (f": {alert.summary}" if alert.summary else ""),
            evidence="{" + pairs + "}",
            where=context,
            why=why,
            fix=fix,
            refs=tuple(refs),
            data={
                "fingerprint": alert.fingerprint,
                "status": alert.status,
                "runbook": asdict(triage.runbook) if triage.runbook else None,
                "causes": [c.text for c in triage.causes],
                "steps": [s.title for s in triage.steps],
            },
        )
    ]
