"""Timestamps as incident timelines write them, turned into aware UTC datetimes.

Recognised at the start of a line (after a list bullet or a table bar): ISO 8601 with or
without a zone (`2026-03-05T14:02:11Z`, `2026-03-05 14:02:11,123 +03:00`), nginx's
`2026/03/05 14:02:11`, the Russian `05.03.2026 14:02`, RFC 2822 (`Thu, 05 Mar 2026 14:02:11
+0300`), syslog and journald (`Mar  5 14:02:11`), klog (`I0305 14:02:11.123456`) and a bare
`HH:MM` or `HH:MM:SS`; anywhere in the line, the common log format's
`[05/Mar/2026:14:02:11 +0300]` (nginx and Apache access logs).

A time without a zone is in the incident's time zone (the page's field, TIME_ZONE by
default). A time without a date takes the date of the last dated line above it, rolling over
midnight when the clock goes back by more than 12 hours (23:50, then 00:10); a year-less
syslog stamp takes the year of the incident's date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = {
    m: n
    for n, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
# Abbreviations that name one offset only; ambiguous ones (CST, IST) are not guessed.
ZONE_ABBREVIATIONS = {
    "Z": 0,
    "UTC": 0,
    "GMT": 0,
    "MSK": 180,
    "CET": 60,
    "CEST": 120,
    "EET": 120,
    "EEST": 180,
    "WET": 0,
    "WEST": 60,
    "BST": 60,
    "EST": -300,
    "EDT": -240,
    "PST": -480,
    "PDT": -420,
}
_ZONE = (
    r"(?P<zone>Z|UTC|GMT|MSK|CET|CEST|EET|EEST|WET|WEST|BST|EST|EDT|PST|PDT|[+-]\d{2}(?::?\d{2})?)"
)
_TIME = r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?"
_END = r"(?=$|[\s\]|,;>)—–-])"

ISO = re.compile(
    rf"^(?P<y>\d{{4}})-(?P<mo>\d{{2}})-(?P<d>\d{{2}})(?:T|\s+){_TIME}(?:\s*{_ZONE})?{_END}"
)
SLASHED = re.compile(
    rf"^(?P<y>\d{{4}})/(?P<mo>\d{{2}})/(?P<d>\d{{2}})(?:T|\s+){_TIME}(?:\s*{_ZONE})?{_END}"
)
DOTTED = re.compile(
    rf"^(?P<d>\d{{1,2}})\.(?P<mo>\d{{1,2}})\.(?P<y>\d{{4}})(?:,?\s+){_TIME}(?:\s*{_ZONE})?{_END}"
)
RFC2822 = re.compile(
    rf"^(?:[A-Za-z]{{3}},\s+)?(?P<d>\d{{1,2}})\s+(?P<mon>[A-Za-z]{{3}})\s+(?P<y>\d{{4}})\s+"
    rf"{_TIME}(?:\s*{_ZONE})?{_END}"
)
SYSLOG = re.compile(rf"^(?P<mon>[A-Za-z]{{3}})\s+(?P<d>\d{{1,2}})\s+{_TIME}(?:\s*{_ZONE})?{_END}")
KLOG = re.compile(rf"^[IWEF](?P<mo>\d{{2}})(?P<d>\d{{2}})\s+{_TIME}{_END}")
CLF = re.compile(
    r"\[(?P<d>\d{2})/(?P<mon>[A-Za-z]{3})/(?P<y>\d{4}):(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})"
    r"\s+(?P<zone>[+-]\d{4})\]"
)
CLOCK = re.compile(rf"^{_TIME}(?:\s*{_ZONE})?{_END}")
DATE_ONLY = re.compile(
    r"^(?:#+\s*|\*\*)?(?:(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})|(?P<d2>\d{1,2})\.(?P<mo2>\d{1,2})"
    r"\.(?P<y2>\d{4}))(?:\*\*)?\s*:?\s*$"
)
# What may stand before the timestamp: a list bullet, a table bar, an opening bracket.
_LEAD = re.compile(r"^(?:[-*•+|>]\s*|\d{1,3}[.)]\s+|\*\*)*\[?")
_SEPARATOR = re.compile(r"^[\s\]|,;:>—–*-]+")


class BadZone(ValueError):
    pass


def zone(name: str) -> tzinfo:
    """The incident's time zone by IANA name (Europe/Moscow), abbreviation or offset."""
    name = (name or "").strip()
    if not name:
        return UTC
    fixed = _fixed_zone(name)
    if fixed is not None:
        return fixed
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadZone(name) from None


def _fixed_zone(text: str) -> tzinfo | None:
    from datetime import timezone as dt_timezone

    upper = text.upper()
    if upper in ZONE_ABBREVIATIONS:
        return dt_timezone(timedelta(minutes=ZONE_ABBREVIATIONS[upper]))
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})?", text)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        if minutes > 14 * 60:
            return None
        return dt_timezone(timedelta(minutes=minutes if m.group(1) == "+" else -minutes))
    return None


@dataclass
class Clock:
    """What a reader knows while it goes down a file: the zone, the current date and the
    last time it saw (for dateless HH:MM lines)."""

    tz: tzinfo
    day: date | None = None
    last: datetime | None = None  # local (naive) time of the previous entry
    # Set when a dateless time had to take the date from the fallback, for the finding.
    assumed: list[int] = field(default_factory=list)


@dataclass
class Stamp:
    at: datetime  # aware, UTC
    rest: str  # the line without its timestamp
    dated: bool  # the line carried its own date


def date_line(line: str) -> date | None:
    """A line that is only a date ("2026-03-05", "## 05.03.2026"): it dates what follows."""
    m = DATE_ONLY.match(line.strip())
    if not m:
        return None
    try:
        if m.group("y"):
            return date(int(m.group("y")), int(m.group("mo")), int(m.group("d")))
        return date(int(m.group("y2")), int(m.group("mo2")), int(m.group("d2")))
    except ValueError:
        return None


def _time(m: re.Match[str]) -> time:
    frac = (m.groupdict().get("frac") or "0")[:6].ljust(6, "0")
    return time(int(m.group("h")), int(m.group("mi")), int(m.group("s") or 0), int(frac))


def _zone_of(m: re.Match[str], default: tzinfo) -> tzinfo:
    name = m.groupdict().get("zone")
    return (_fixed_zone(name) if name else None) or default


def _aware(day: date, at: time, tz: tzinfo) -> datetime:
    return datetime.combine(day, at).replace(tzinfo=tz).astimezone(UTC)


def parse(line: str, clock: Clock) -> Stamp | None:
    """The line's timestamp, or None when it has none. Raises ValueError for an impossible
    date or time (2026-02-30, 25:10)."""
    stripped = line.strip()
    lead = _LEAD.match(stripped)
    body = stripped[lead.end() if lead else 0 :]
    for pattern in (ISO, SLASHED, DOTTED):
        m = pattern.match(body)
        if m:
            day = date(int(m.group("y")), int(m.group("mo")), int(m.group("d")))
            return _dated(m, body, day, clock)
    m = RFC2822.match(body)
    if m and m.group("mon").lower() in MONTHS:
        day = date(int(m.group("y")), MONTHS[m.group("mon").lower()], int(m.group("d")))
        return _dated(m, body, day, clock)
    m = SYSLOG.match(body)
    if m and m.group("mon").lower() in MONTHS:
        year = (clock.day or datetime.now(UTC).date()).year
        day = date(year, MONTHS[m.group("mon").lower()], int(m.group("d")))
        return _dated(m, body, day, clock)
    m = KLOG.match(body)
    if m:
        year = (clock.day or datetime.now(UTC).date()).year
        return _dated(m, body, date(year, int(m.group("mo")), int(m.group("d"))), clock)
    m = CLF.search(stripped)
    if m and m.group("mon").lower() in MONTHS:
        day = date(int(m.group("y")), MONTHS[m.group("mon").lower()], int(m.group("d")))
        rest = (stripped[: m.start()] + stripped[m.end() :]).strip()
        stamp = _dated(m, "", day, clock)
        return Stamp(stamp.at, re.sub(r"\s+", " ", rest), True)
    m = CLOCK.match(body)
    if m:
        return _clock(m, body, clock)
    return None


def _dated(m: re.Match[str], body: str, day: date, clock: Clock) -> Stamp:
    at = _time(m)
    tz = _zone_of(m, clock.tz)
    clock.day = day
    local = datetime.combine(day, at)
    clock.last = (
        local if tz is clock.tz else _aware(day, at, tz).astimezone(clock.tz).replace(tzinfo=None)
    )
    return Stamp(_aware(day, at, tz), _SEPARATOR.sub("", body[m.end() :]).strip(), True)


def _clock(m: re.Match[str], body: str, clock: Clock) -> Stamp:
    at = _time(m)
    tz = _zone_of(m, clock.tz)
    if clock.day is None:
        raise NoDate
    day = clock.day
    if clock.last is not None:
        candidate = datetime.combine(day, at)
        # The clock went back by more than half a day: past midnight.
        if candidate < clock.last - timedelta(hours=12):
            day = day + timedelta(days=1)
            clock.day = day
    clock.last = datetime.combine(day, at)
    return Stamp(_aware(day, at, tz), _SEPARATOR.sub("", body[m.end() :]).strip(), False)


class NoDate(Exception):
    """A time of day came before any date was known."""
