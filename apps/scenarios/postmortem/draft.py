"""Drafting a post-mortem from raw material: the inputs read, merged into one timeline, with
its milestones, durations, action items and the findings a reviewer acts on."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, tzinfo
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from apps.scenarios.engine.base import Analysis, InputError, check_size
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.postmortem import readers, timeline, timeparse

MAX_ATTACHMENTS = 10


def incident_zone(name: str) -> tzinfo:
    try:
        return timeparse.zone(name or settings.TIME_ZONE)
    except timeparse.BadZone:
        raise InputError(
            _("unknown time zone %(zone)r (e.g. Europe/Moscow, UTC, +03:00)") % {"zone": name},
            field="timezone",
        ) from None


def incident_date(value: Any) -> date | None:
    if not value:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(_("the date must be YYYY-MM-DD, e.g. 2026-03-05"), field="date") from None


def read_all(
    text: str,
    attachments: Iterable[Mapping[str, str]],
    alerts: Iterable[Any],
    tz: tzinfo,
    day: date | None,
) -> list[readers.Entry]:
    """Every input's entries. Dated material (chat exports, alerts) is read first: its
    first date is the date of dateless HH:MM lines when neither the lines nor the date
    field give one."""
    inputs = [
        ("", text),
        *((str(a.get("name") or "")[:200], str(a.get("text") or "")) for a in attachments),
    ]
    inputs = [(n, t) for n, t in inputs if t.strip()]
    if len(inputs) > MAX_ATTACHMENTS + 1:
        raise InputError(
            _("at most %(n)d files are read at once") % {"n": MAX_ATTACHMENTS + 1},
            field="attachments",
        )
    entries = readers.alert_entries(alerts)
    plain: list[tuple[str, str, str]] = []
    for name, body in inputs:
        check_size(body)
        how = readers.kind(body)
        if how == "chat":
            with _named(name):
                entries += readers.read_chat(body, name)
        else:
            plain.append((name, body, how))
    anchor = day
    if anchor is None and entries:
        anchor = min(e.at for e in entries).astimezone(tz).date()
    for name, body, how in plain:
        start = day or readers.first_date(body, tz) or anchor
        with _named(name):
            if how == "csv":
                entries += readers.read_csv(body, tz, start, name)
            else:
                entries += readers.read_text(body, tz, start, name)
    return entries


@contextmanager
def _named(name: str) -> Iterator[None]:
    """An error in one of several files names the file."""
    try:
        yield
    except InputError as exc:
        if not name:
            raise
        raise InputError(f"{name}: {exc.message}", line=exc.line, field="attachments") from None


def analyze(
    text: str,
    *,
    attachments: Iterable[Mapping[str, str]] = (),
    alerts: Iterable[Any] = (),
    zone_name: str = "",
    day: Any = None,
) -> Analysis:
    tz = incident_zone(zone_name)
    entries = read_all(text, list(attachments), list(alerts), tz, incident_date(day))
    if not entries:
        raise InputError(
            _("nothing to draft from: paste a timeline, a CSV or a chat export"), field="text"
        )
    merged = timeline.merge(entries)
    found = timeline.milestones(merged)
    spans = timeline.durations(merged, found)
    items = timeline.action_items(merged)
    findings = _findings(merged, found, spans, items)
    zone_label = zone_name or settings.TIME_ZONE
    facts: dict[str, Any] = {
        "timezone": zone_label,
        "timeline": [e.to_dict() | {"n": n} for n, e in enumerate(merged, start=1)],
        "milestones": {name: m.to_dict(merged) for name, m in found.items()},
        "durations": spans,
        "action_items": items,
        "inputs": _counts(merged),
        "started": merged[0].to_dict()["at"],
        "ended": merged[-1].to_dict()["at"],
    }
    grounding = [e.text for e in merged if e.source == "alert"][:5]
    return Analysis(findings=findings, facts=facts, grounding=grounding)


def _counts(merged: list[readers.Entry]) -> dict[str, int]:
    out: dict[str, int] = {}
    for entry in merged:
        out[entry.source] = out.get(entry.source, 0) + 1
    return out


def milestone_label(name: str) -> str:
    labels = {
        "started": _("impact started"),
        "first_alert": _("first alert"),
        "acknowledged": _("acknowledged"),
        "mitigated": _("mitigated"),
        "resolved": _("resolved"),
    }
    return labels.get(name, name)


def _findings(
    merged: list[readers.Entry],
    found: dict[str, timeline.Milestone],
    spans: dict[str, int | None],
    items: list[dict[str, Any]],
) -> list[Finding]:
    out: list[Finding] = []
    for name in timeline.MILESTONES:
        if name in found:
            m = found[name]
            entry = merged[m.index]
            out.append(
                Finding(
                    severity=Severity.INFO,
                    rule=f"postmortem.milestone.{name}",
                    message=_("%(milestone)s at %(at)s (entry %(n)d)")
                    % {
                        "milestone": milestone_label(name),
                        "at": entry.at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                        "n": m.index + 1,
                    },
                    line=entry.line if not entry.name else None,
                    evidence=entry.text[:300],
                    where=entry.name or entry.source,
                    data={"milestone": name, "how": m.how},
                )
            )
        else:
            out.append(
                Finding(
                    severity=Severity.WARNING,
                    rule=f"postmortem.milestone-missing.{name}",
                    message=_("no “%(milestone)s” milestone in the timeline")
                    % {"milestone": milestone_label(name)},
                    why=_("the durations that need it cannot be computed"),
                    fix=_("mark the entry with [%(tag)s] or add a line that says so")
                    % {"tag": name},
                    data={"milestone": name},
                )
            )
    for key, value in spans.items():
        if value is not None and value < 0:
            out.append(
                Finding(
                    severity=Severity.WARNING,
                    rule="postmortem.negative-duration",
                    message=_("%(what)s is negative (%(value)d s): check the time zones")
                    % {"what": key, "value": value},
                    data={"duration": key},
                )
            )
    for item in items:
        if not item["owner"]:
            out.append(
                Finding(
                    severity=Severity.WARNING,
                    rule="postmortem.action-item-without-owner",
                    message=_("an action item without an owner"),
                    line=item["line"] if not item["name"] else None,
                    evidence=item["text"][:300],
                    where=item["name"] or "",
                    fix=_("name the owner (@login) and a date (до 2026-03-20 / by 2026-03-20)"),
                )
            )
    return out
