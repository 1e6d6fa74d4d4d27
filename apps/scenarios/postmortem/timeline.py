"""The merged timeline, its milestones, the durations they give and the action items.

Milestones, in the order an incident passes them:
- started: a line saying the impact began ("impact started", "началось", "деградация
  началась") or a CSV milestone; else the first entry of the timeline;
- first_alert: the first alert (alert triage records, or a line saying an alert fired or the
  problem was detected);
- acknowledged: someone took it ("ack", "acknowledged", "взял в работу", "принял");
- mitigated: the impact stopped or was worked around ("mitigated", "rolled back",
  "откатили", "переключили", "workaround");
- resolved: the incident is over ("resolved", "fixed", "решено", "инцидент закрыт"); when no
  line says so, the moment the last of the incident's alerts resolved.

A milestone given explicitly (a CSV column, "[resolved]" or "#resolved" in a line) wins over
one found by words; each is the first entry at or after the milestone before it.

time_to_detect = first_alert − started; time_to_acknowledge = acknowledged − first_alert;
time_to_mitigate = mitigated − started; time_to_resolve = resolved − started (seconds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apps.scenarios.postmortem.readers import Entry

MILESTONES = ("started", "first_alert", "acknowledged", "mitigated", "resolved")

PATTERNS: dict[str, re.Pattern[str]] = {
    "started": re.compile(
        r"\b(impact (started|began)|incident (started|began)|outage (started|began)|"
        r"started failing|degradation (started|began))\b|"
        r"(началось|начался|началась|начали падать|деградация началась|начало инцидента)",
        re.I,
    ),
    "first_alert": re.compile(
        r"\b(alert(s)? (fired|firing|triggered)|fired|firing|paged|page sent|detected|"
        r"pagerduty|on-?call (was )?paged)\b|(алерт|сработал|обнаружил|обнаружено|оповещени)",
        re.I,
    ),
    "acknowledged": re.compile(
        r"\b(ack(ed|nowledged)?|on it|taking (it|this)|investigating|looking into)\b|"
        r"(взял в работу|беру|принял|смотрю|разбираюсь|подтвердил)",
        re.I,
    ),
    "mitigated": re.compile(
        r"\b(mitigat(ed|ion)|rolled back|roll(ed)? ?back|workaround|failover|failed over|"
        r"traffic (restored|shifted|drained)|impact (stopped|ended)|recovered)\b|"
        r"(откатил|откат|переключил|обходн|смягч|нагрузка снизилась|трафик вернул|"
        r"восстановил)",
        re.I,
    ),
    "resolved": re.compile(
        r"\b(resolved|fixed|all clear|incident (closed|over)|root cause fixed|closing the "
        r"incident)\b|(решено|решён|решен|устранен|устранён|инцидент закрыт|закрываем инцидент)",
        re.I,
    ),
}
_NEGATED = re.compile(r"\b(not|no longer|still not|isn't|wasn't|un)\s*\w*$|\bне\s+$", re.I)
_TAG = re.compile(
    r"(?:\[|#)(started|first_alert|alert|ack|acknowledged|mitigated|resolved)\]?", re.I
)
_TAG_NAMES = {"alert": "first_alert", "ack": "acknowledged"}

ACTION = re.compile(
    r"(\bTODO\b|\bFIXME\b|\baction items?\b|\bAI:|\bfollow[- ]up\b|нужно|надо|необходимо|"
    r"требуется|следует)",
    re.I,
)
OWNER = re.compile(
    r"(@[\w.\-]+)|(?i:\b(?:owner|assignee|assigned to)\s*[:=]?\s*|(?:ответственн\w*|"
    r"исполнитель)\s*[:=]?\s*)([\w.\-@]+(?:\s+[А-ЯЁA-Z][\w.\-]+)?)"
)
DUE = re.compile(
    r"(?:\b(?:due|by|until|deadline)\s*:?\s*|(?:\bдо|срок)\s*:?\s*)"
    r"(\d{4}-\d{2}-\d{2}|\d{1,2}\.\d{1,2}\.\d{4}|\d{1,2}\.\d{1,2})",
    re.I,
)


def merge(entries: list[Entry]) -> list[Entry]:
    """Entries in time order (input order among equal times), exact repeats dropped (the
    same message in a chat export and a pasted timeline)."""
    seen: set[tuple[datetime, str]] = set()
    out: list[Entry] = []
    for entry in sorted(entries, key=lambda e: e.at):
        key = (entry.at, entry.text.casefold())
        if key in seen:
            continue
        seen.add(key)
        out.append(entry)
    return out


def _tagged(entry: Entry) -> str:
    if entry.milestone in MILESTONES:
        return entry.milestone
    m = _TAG.search(entry.text)
    if m:
        word = m.group(1).lower()
        return _TAG_NAMES.get(word, word)
    return ""


def _says(entry: Entry, milestone: str) -> bool:
    m = PATTERNS[milestone].search(entry.text)
    if not m:
        return False
    # "not resolved", "не решено": the words say the opposite.
    return not _NEGATED.search(entry.text[: m.start()][-20:])


@dataclass
class Milestone:
    name: str
    index: int  # position in the merged timeline
    how: str  # tagged | words | first entry | alerts

    def to_dict(self, timeline: list[Entry]) -> dict[str, Any]:
        entry = timeline[self.index]
        return {
            "at": entry.to_dict()["at"],
            "entry": self.index + 1,
            "text": entry.text,
            "how": self.how,
        }


def milestones(timeline: list[Entry]) -> dict[str, Milestone]:
    found: dict[str, Milestone] = {}
    if not timeline:
        return found
    floor = 0
    for name in MILESTONES:
        hit = next(
            (Milestone(name, i, "tagged") for i, e in enumerate(timeline) if _tagged(e) == name),
            None,
        )
        if hit is None:
            hit = next(
                (
                    Milestone(name, i, "words")
                    for i, e in enumerate(timeline[floor:], start=floor)
                    if e.source != "alert" and _says(e, name)
                ),
                None,
            )
        if hit is None and name == "started":
            hit = Milestone(name, 0, "first entry")
        if hit is None and name == "resolved":
            alerts = [i for i, e in enumerate(timeline) if e.milestone == "alert_resolved"]
            fired = {e.name for e in timeline if e.milestone == "first_alert"}
            resolved = {timeline[i].name for i in alerts}
            if alerts and fired <= resolved:
                hit = Milestone(name, alerts[-1], "alerts")
        if hit is not None:
            found[name] = hit
            floor = max(floor, hit.index)
    return found


def durations(timeline: list[Entry], found: dict[str, Milestone]) -> dict[str, int | None]:
    def at(name: str) -> datetime | None:
        return timeline[found[name].index].at if name in found else None

    def span(a: str, b: str) -> int | None:
        start, end = at(a), at(b)
        return int((end - start).total_seconds()) if start and end else None

    return {
        "time_to_detect": span("started", "first_alert"),
        "time_to_acknowledge": span("first_alert", "acknowledged"),
        "time_to_mitigate": span("started", "mitigated"),
        "time_to_resolve": span("started", "resolved"),
    }


def action_items(timeline: list[Entry]) -> list[dict[str, Any]]:
    items = []
    for n, entry in enumerate(timeline, start=1):
        if entry.source == "alert" or not ACTION.search(entry.text):
            continue
        owner = OWNER.search(entry.text)
        due = DUE.search(entry.text)
        items.append(
            {
                "text": entry.text,
                "owner": (owner.group(1) or owner.group(2)).strip() if owner else "",
                "due": due.group(1) if due else "",
                "entry": n,
                "author": entry.author,
                "line": entry.line,
                "name": entry.name,
            }
        )
    return items


def human_duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s" if secs else f"{sign}{minutes}m"
    return f"{sign}{secs}s"
