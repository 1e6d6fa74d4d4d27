"""Readers of the raw material of a post-mortem, each giving timeline entries.

- text lines with a timestamp each (timeparse.py lists the formats); an indented line
  continues the entry above; a line that is only a date dates the lines below; Markdown
  headings, blank lines and a Markdown table's header and rule are skipped;
- CSV (comma, semicolon or tab) with a header naming a time column and a text column;
- chat exports: Slack's (a channel's day file: a JSON array of messages with `ts`),
  Mattermost's bulk export (JSON lines of `{"type": "post", "post": {...}}`) and
  Mattermost's API answer (`{"order": [...], "posts": {...}}`);
- the incident's alerts as alert triage recorded them (alert_entries).

Anything else is refused with the line it stopped at.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.postmortem import timeparse

MAX_ENTRIES = 5000
MAX_TEXT = 2000

TIME_COLUMNS = ("timestamp", "datetime", "time", "date", "when", "at", "время", "дата", "когда")
TEXT_COLUMNS = (
    *("event", "message", "text", "description", "what", "summary", "details", "action"),
    *("событие", "сообщение", "текст", "описание", "что"),
)
AUTHOR_COLUMNS = ("who", "author", "user", "owner", "by", "автор", "кто")
MILESTONE_COLUMNS = ("milestone", "kind", "type", "stage", "этап", "веха", "тип")
_HEADER_WORDS = {"time", "timestamp", "date", "время", "дата", "когда", "when"}


def no_timestamp(line: int, field: str = "text") -> InputError:
    return InputError(
        _("no timestamp (expected ISO 8601, HH:MM or a chat export)"), line=line, field=field
    )


@dataclass
class Entry:
    """One moment of the incident."""

    at: datetime  # aware, UTC
    text: str
    source: str  # timeline | csv | slack | mattermost | alert
    line: int | None = None  # where in its input
    author: str = ""
    milestone: str = ""  # given explicitly (CSV column, alert records); else found by rules
    name: str = ""  # the input's file name, when there are several

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat().replace("+00:00", "Z")
        return out


def _clip(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def kind(text: str) -> str:
    """What the input looks like: chat (JSON), csv or text."""
    head = text.lstrip("\ufeff \t\r\n")
    # "[14:02] …" is a timeline line; a JSON array starts with an object or is empty.
    if re.match(r"\{|\[\s*(\{|\]|$)", head):
        return "chat"
    first = next((ln for ln in head.splitlines() if ln.strip()), "")
    cells = _header_cells(first)
    if cells and any(c in TIME_COLUMNS for c in cells) and len(cells) >= 2:
        return "csv"
    return "text"


def _delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _header_cells(line: str) -> list[str]:
    try:
        if not line or timeparse.parse(line, timeparse.Clock(UTC, date(2000, 1, 1))):
            return []
    except ValueError:
        return []
    try:
        row = next(csv.reader([line], delimiter=_delimiter(line)))
    except (csv.Error, StopIteration):
        return []
    return [c.strip().strip('"').lower() for c in row]


def first_date(text: str, tz: tzinfo) -> date | None:
    """The first date the text carries (a date line or a dated timestamp), for dateless
    times that come before it."""
    clock = timeparse.Clock(tz)
    for raw in text.splitlines()[:MAX_ENTRIES]:
        day = timeparse.date_line(raw)
        if day:
            return day
        try:
            stamp = timeparse.parse(raw, clock)
        except (ValueError, timeparse.NoDate):
            continue
        if stamp is not None and stamp.dated:
            return stamp.at.astimezone(tz).date()
    return None


def read_text(text: str, tz: tzinfo, day: date | None, name: str = "") -> list[Entry]:
    field = name or "text"
    clock = timeparse.Clock(tz, day)
    entries: list[Entry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        stripped = raw.strip()
        if raw[:1] in (" ", "\t") and entries and not _stamped(raw, clock):
            entries[-1].text = _clip(entries[-1].text + " " + stripped)
            continue
        when = timeparse.date_line(raw)
        if when is not None:
            clock.day, clock.last = when, None
            continue
        if stripped.startswith("#") or re.match(r"^\|?\s*:?-{3,}", stripped):
            continue
        if stripped.startswith("|"):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if cells and cells[0].lower().strip("* ") in _HEADER_WORDS:
                continue
            stripped = " | ".join(c for c in cells if c)
        try:
            stamp = timeparse.parse(stripped, clock)
        except timeparse.NoDate:
            raise InputError(
                _(
                    "a time without a date: give the incident's date (a line such as "
                    "2026-03-05 above it, or the date field)"
                ),
                line=number,
                field=field,
            ) from None
        except ValueError:
            raise InputError(_("an impossible date or time"), line=number, field=field) from None
        if stamp is None:
            raise no_timestamp(number, field)
        entries.append(Entry(stamp.at, _clip(stamp.rest), "timeline", number, name=name))
        _limit(entries, number, field)
    return entries


def _stamped(raw: str, clock: timeparse.Clock) -> bool:
    probe = timeparse.Clock(clock.tz, clock.day or date(2000, 1, 1), clock.last)
    try:
        return timeparse.parse(raw, probe) is not None
    except (ValueError, timeparse.NoDate):
        return False


def _limit(entries: list[Entry], line: int, field: str) -> None:
    if len(entries) > MAX_ENTRIES:
        raise InputError(
            _("more than %(n)d timeline entries; split the incident") % {"n": MAX_ENTRIES},
            line=line,
            field=field,
        )


def _column(cells: list[str], names: Iterable[str]) -> int | None:
    for name in names:
        if name in cells:
            return cells.index(name)
    return None


def read_csv(text: str, tz: tzinfo, day: date | None, name: str = "") -> list[Entry]:
    field = name or "text"
    lines = text.lstrip("\ufeff").splitlines()
    header_at = next(n for n, ln in enumerate(lines) if ln.strip())
    delimiter = _delimiter(lines[header_at])
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    rows = list(reader)
    header = [c.strip().lower() for c in rows[header_at]]
    time_col = _column(header, [c for c in TIME_COLUMNS if c != "date"])
    date_col = _column(header, ("date", "дата"))
    if time_col is None:
        time_col, date_col = date_col, None
    text_col = _column(header, TEXT_COLUMNS)
    if text_col is None:
        others = [i for i in range(len(header)) if i not in (time_col, date_col)]
        if not others:
            raise InputError(
                _("the CSV header names no text column (event, message, description, событие…)"),
                line=header_at + 1,
                field=field,
            )
        text_col = others[0]
    author_col = _column(header, AUTHOR_COLUMNS)
    milestone_col = _column(header, MILESTONE_COLUMNS)
    clock = timeparse.Clock(tz, day)
    entries: list[Entry] = []
    for offset, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        if not any(c.strip() for c in row):
            continue
        cell = row[time_col].strip() if time_col is not None and time_col < len(row) else ""
        if date_col is not None and date_col < len(row):
            cell = f"{row[date_col].strip()} {cell}"
        try:
            stamp = timeparse.parse(cell, clock)
        except timeparse.NoDate:
            raise InputError(
                _("a time without a date: add a date column or give the date field"),
                line=offset,
                field=field,
            ) from None
        except ValueError:
            raise InputError(_("an impossible date or time"), line=offset, field=field) from None
        if stamp is None or stamp.rest:
            raise no_timestamp(offset, field)
        body = row[text_col].strip() if text_col < len(row) else ""
        entries.append(
            Entry(
                stamp.at,
                _clip(body),
                "csv",
                offset,
                author=_cell(row, author_col),
                milestone=milestone_word(_cell(row, milestone_col)),
                name=name,
            )
        )
        _limit(entries, offset, field)
    return entries


def _cell(row: list[str], col: int | None) -> str:
    return row[col].strip()[:100] if col is not None and col < len(row) else ""


MILESTONE_WORDS = {
    "start": "started",
    "started": "started",
    "begin": "started",
    "начало": "started",
    "alert": "first_alert",
    "detected": "first_alert",
    "detect": "first_alert",
    "first_alert": "first_alert",
    "обнаружено": "first_alert",
    "алерт": "first_alert",
    "ack": "acknowledged",
    "acknowledged": "acknowledged",
    "принято": "acknowledged",
    "mitigated": "mitigated",
    "mitigation": "mitigated",
    "смягчено": "mitigated",
    "resolved": "resolved",
    "resolve": "resolved",
    "решено": "resolved",
    "устранено": "resolved",
}


def milestone_word(word: str) -> str:
    return MILESTONE_WORDS.get(word.strip().lower().replace(" ", "_"), "")


# --- chat exports ---------------------------------------------------------------------------


def _json_error(exc: json.JSONDecodeError, field: str) -> InputError:
    return InputError(
        _("not a chat export: %(reason)s (column %(col)d)") % {"reason": exc.msg, "col": exc.colno},
        line=exc.lineno,
        field=field,
    )


def read_chat(text: str, name: str = "") -> list[Entry]:
    field = name or "text"
    body = text.lstrip("\ufeff")
    try:
        data = json.loads(body)
    except RecursionError:
        raise InputError(_("not a chat export: nested too deeply"), line=1, field=field) from None
    except json.JSONDecodeError as exc:
        # Mattermost's bulk export is one JSON object per line.
        if exc.msg == "Extra data":
            return _mattermost_bulk(body, field, name)
        raise _json_error(exc, field) from None
    if isinstance(data, list):
        return _slack(data, field, name)
    if isinstance(data, dict) and isinstance(data.get("posts"), dict):
        return _mattermost_api(data, field, name)
    if isinstance(data, dict) and data.get("type") in ("post", "version", "direct_post"):
        return _mattermost_bulk(body, field, name)
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return _slack(data["messages"], field, name)
    raise InputError(
        _(
            "a JSON document that is not a chat export (expected a Slack channel export, a "
            "Mattermost bulk export or Mattermost's posts)"
        ),
        line=1,
        field=field,
    )


def _epoch(value: Any, scale: int) -> datetime | None:
    try:
        seconds = Decimal(str(value)) / scale
        return datetime.fromtimestamp(float(seconds), tz=UTC)
    except (InvalidOperation, ValueError, OverflowError, OSError):
        return None


def _slack(messages: list[Any], field: str, name: str) -> list[Entry]:
    entries: list[Entry] = []
    for n, msg in enumerate(messages, start=1):
        if not isinstance(msg, dict) or "ts" not in msg:
            raise InputError(
                _("message %(n)d of the Slack export has no 'ts'") % {"n": n},
                line=1,
                field=field,
            )
        at = _epoch(msg["ts"], 1)
        if at is None:
            raise InputError(
                _("message %(n)d of the Slack export has a bad 'ts'") % {"n": n},
                line=1,
                field=field,
            )
        if msg.get("subtype") in ("channel_join", "channel_leave", "bot_add"):
            continue
        raw_profile = msg.get("user_profile")
        profile: dict[str, Any] = raw_profile if isinstance(raw_profile, dict) else {}
        author = str(
            profile.get("real_name")
            or profile.get("display_name")
            or msg.get("username")
            or msg.get("user")
            or ""
        )
        text = _slack_text(str(msg.get("text") or ""))
        if not text:
            continue
        entries.append(Entry(at, _clip(text), "slack", None, author[:100], name=name))
        _limit(entries, 1, field)
    return entries


def _slack_text(text: str) -> str:
    # <@U123|alice> → @alice, <https://x|label> → label, &amp; → &
    text = re.sub(r"<@[A-Z0-9]+\|([^>]+)>", r"@\1", text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2", text)
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def _mattermost_post(post: dict[str, Any], author_key: str) -> tuple[datetime | None, str, str]:
    at = _epoch(post.get("create_at"), 1000)
    raw_props = post.get("props")
    props: dict[str, Any] = raw_props if isinstance(raw_props, dict) else {}
    author = str(props.get("override_username") or post.get(author_key) or "")
    return at, str(post.get("message") or "").strip(), author[:100]


def _mattermost_api(data: dict[str, Any], field: str, name: str) -> list[Entry]:
    posts = data["posts"]
    raw_order = data.get("order")
    order: list[Any] = raw_order if isinstance(raw_order, list) else list(posts)
    entries: list[Entry] = []
    for n, key in enumerate(order, start=1):
        post = posts.get(key)
        if not isinstance(post, dict):
            continue
        if str(post.get("type") or "").startswith("system_"):
            continue
        at, text, author = _mattermost_post(post, "user_id")
        if at is None:
            raise InputError(
                _("post %(n)d of the Mattermost export has no 'create_at'") % {"n": n},
                line=1,
                field=field,
            )
        if text:
            entries.append(Entry(at, _clip(text), "mattermost", None, author, name=name))
            _limit(entries, 1, field)
    return entries


def _mattermost_bulk(body: str, field: str, name: str) -> list[Entry]:
    entries: list[Entry] = []
    for number, raw in enumerate(body.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(
                _("not a chat export: %(reason)s (column %(col)d)")
                % {"reason": exc.msg, "col": exc.colno},
                line=number,
                field=field,
            ) from None
        except RecursionError:
            raise InputError(
                _("not a chat export: nested too deeply"), line=number, field=field
            ) from None
        if not isinstance(item, dict):
            raise InputError(_("expected a JSON object"), line=number, field=field)
        if item.get("type") not in ("post", "direct_post"):
            continue
        post = item.get(item["type"])
        if not isinstance(post, dict):
            raise InputError(_("a post without its object"), line=number, field=field)
        for one in [post, *[r for r in post.get("replies") or [] if isinstance(r, dict)]]:
            at, text, author = _mattermost_post(one, "user")
            if at is None:
                raise InputError(_("a post without 'create_at'"), line=number, field=field)
            if text:
                entries.append(Entry(at, _clip(text), "mattermost", number, author, name=name))
        _limit(entries, number, field)
    return entries


# --- alert triage records -------------------------------------------------------------------


def alert_entries(alerts: Iterable[Any]) -> list[Entry]:
    """Each alert's firing periods as alert triage recorded them: fired, fired again,
    resolved. The first firing is the incident's first alert."""
    entries: list[Entry] = []
    for alert in alerts:
        label = alert.alertname or alert.fingerprint
        where = ", ".join(
            f"{k}={v}"
            for k, v in (alert.labels or {}).items()
            if k in ("cluster", "namespace", "service", "instance", "node")
        )
        head = f"{label} ({where})" if where else label
        summary = f": {alert.summary}" if alert.summary else ""
        entries.append(
            Entry(
                alert.starts_at.astimezone(UTC),
                _clip(_("alert %(name)s fired%(summary)s") % {"name": head, "summary": summary}),
                "alert",
                author="alertmanager" if alert.source != "grafana" else "grafana",
                milestone="first_alert",
                name=f"alert:{alert.pk}",
            )
        )
        for event in alert.timeline or []:
            kind_ = event.get("event")
            at = _iso(event.get("at"))
            if at is None or kind_ not in ("reopened", "resolved"):
                continue
            text = (
                _("alert %(name)s resolved")
                if kind_ == "resolved"
                else _("alert %(name)s fired again")
            ) % {"name": head}
            entries.append(
                Entry(
                    at,
                    text,
                    "alert",
                    name=f"alert:{alert.pk}",
                    milestone="alert_resolved" if kind_ == "resolved" else "",
                )
            )
        if alert.ends_at and not any(
            e.milestone == "alert_resolved" and e.name == f"alert:{alert.pk}" for e in entries
        ):
            entries.append(
                Entry(
                    alert.ends_at.astimezone(UTC),
                    _("alert %(name)s resolved") % {"name": head},
                    "alert",
                    name=f"alert:{alert.pk}",
                    milestone="alert_resolved",
                )
            )
    return entries


def _iso(value: Any) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo else None
