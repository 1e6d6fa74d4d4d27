"""Time ranges in a question, as OpenSearch date math.

"за последний час" / "last hour" → gte now-1h; "вчера" / "yesterday" → now-1d/d … now/d;
"since 10:00" / "с 10:00 до 12:30" → now/d+10h … now/d+12h+30m; "2025-02-06" → that day.
Ranges that round to a day or name a wall-clock time carry the portal's time zone, so
"yesterday" is the team's yesterday, not UTC's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from apps.scenarios.opensearch_dsl.scan import Scan

NUMBERS = {
    **{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10},
    **{"fifteen": 15, "twenty": 20, "thirty": 30, "a": 1, "an": 1, "a couple of": 2},
    **{"один": 1, "одну": 1, "одна": 1, "два": 2, "две": 2, "пару": 2, "три": 3, "четыре": 4},
    **{"пять": 5, "шесть": 6, "десять": 10, "пятнадцать": 15, "двадцать": 20, "тридцать": 30},
}
_NUM = (
    r"(?P<n>\d+|" + "|".join(sorted((re.escape(k) for k in NUMBERS), key=len, reverse=True)) + ")"
)
UNITS = [
    (r"seconds?|secs?|секунд[уы]?|сек", "s"),
    (r"minutes?|mins?|минут[уы]?|мин", "m"),
    (r"hours?|hrs?|час(?:а|ов)?|ч", "h"),
    (r"days?|д(?:ень|ня|ней)|сутки|суток", "d"),
    (r"weeks?|недел[юиь]|недель", "w"),
    (r"months?|месяц(?:а|ев)?", "M"),
]
_UNIT = "(?P<unit>" + "|".join(u for u, _ in UNITS) + r")(?![\w])"
_COMPACT = r"(?P<cn>\d+)(?P<cu>[smhdw])(?![\w])"
_LAST_EN = r"(?:(?:in|over|during|for|within)\s+)?(?:the\s+)?(?:last|past|previous|recent)\s+"
_LAST_RU = r"(?:(?:за|в течение|в)\s+)?(?:последн(?:ий|ие|юю|ее|их|яя)\s+)"
_FOR_RU = r"(?:за|в течение)\s+"
_HALF = r"(?:half an hour|half hour|полчаса|пол часа)"
_CLOCK = r"(?P<{g}h>\d{{1,2}})(?::(?P<{g}m>\d{{2}})|\s*(?P<{g}ap>am|pm|утра|вечера|дня|ночи|часов|ч)(?![\w]))"
_DAYS = {
    "today": r"today|сегодня|сегодняшн\w*|за сегодня",
    "yesterday": r"yesterday|вчера|вчерашн\w*|за вчера",
    "before": r"day before yesterday|позавчера",
}
_ISO = r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
_RUDATE = r"(?P<d2>\d{1,2})\.(?P<mo2>\d{1,2})\.(?P<y2>\d{4})"


@dataclass
class TimeRange:
    """gte/lt as date math; `zoned` when the time zone changes the meaning."""

    gte: str | None = None
    lt: str | None = None
    zoned: bool = False
    label: str = ""


def _unit(word: str) -> str:
    for pattern, unit in UNITS:
        if re.fullmatch(pattern, word):
            return unit
    return word


def _hours(m: re.Match[str], g: str) -> tuple[int, int] | None:
    hour = int(m.group(f"{g}h"))
    minute = int(m.group(f"{g}m") or 0)
    ap = m.group(f"{g}ap") or ""
    if ap in ("pm", "вечера", "дня") and hour < 12:
        hour += 12
    if ap in ("am", "ночи") and hour == 12:
        hour = 0
    if hour > 24 or minute > 59:
        return None
    return hour, minute


def _at(base: str, hm: tuple[int, int]) -> str:
    hour, minute = hm
    if base.endswith("||"):  # an absolute day: write the wall-clock time itself
        return f"{base[:-2]}T{hour:02d}:{minute:02d}:00"
    return base + (f"+{hour}h" if hour else "") + (f"+{minute}m" if minute else "")


def relative(scan: Scan) -> TimeRange | None:
    patterns = [
        rf"{_LAST_EN}(?:{_NUM}\s*)?{_UNIT}",
        rf"{_LAST_EN}{_COMPACT}",
        rf"{_LAST_RU}(?:{_NUM}\s*)?{_UNIT}",
        rf"{_FOR_RU}(?:{_NUM}\s*)?{_UNIT}",
        rf"(?:{_LAST_EN}|{_LAST_RU}|{_FOR_RU})?{_HALF}",
        rf"(?:{_FOR_RU}|(?:in|over|for|within)\s+(?:the\s+)?){_COMPACT}",
    ]
    for pattern in patterns:
        for m in scan.find(pattern):
            groups = m.groupdict()
            if groups.get("cn"):
                n, unit = int(groups["cn"]), groups["cu"]
            elif groups.get("unit"):
                raw = groups.get("n")
                n = int(raw) if raw and raw.isdigit() else NUMBERS.get(raw or "", 1)
                unit = _unit(groups["unit"])
            else:  # half an hour
                n, unit = 30, "m"
            if n <= 0:
                continue
            scan.take(m.start(), m.end())
            return TimeRange(gte=f"now-{n}{unit}", label=scan.original(m.start(), m.end()))
    return None


def _day(scan: Scan) -> tuple[str, str, str] | None:
    """(start, end, words) of a named or written day."""
    for m in scan.find(_ISO + r"|" + _RUDATE):
        y, mo, d = (m.group("y"), m.group("mo"), m.group("d"))
        if y is None:
            y, mo, d = m.group("y2"), m.group("mo2").zfill(2), m.group("d2").zfill(2)
        if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31):
            continue
        scan.take(m.start(), m.end())
        day = f"{y}-{mo}-{d}"
        return f"{day}||", f"{day}||+1d", scan.original(m.start(), m.end())
    for key in ("before", "yesterday", "today"):
        since = r"(?P<since>since|from|starting|со|с|начиная с)\s+"
        for m in scan.find(rf"(?<![\w])(?:{since})?(?:{_DAYS[key]})(?![\w])"):
            scan.take(m.start(), m.end())
            words = scan.original(m.start(), m.end())
            open_end = bool(m.group("since"))  # "since yesterday": up to now
            if key == "before":
                return "now-2d/d", "" if open_end else "now-1d/d", words
            if key == "yesterday":
                return "now-1d/d", "" if open_end else "now/d", words
            return "now/d", "", words
    return None


def clock(scan: Scan, base: str) -> tuple[str | None, str | None, str] | None:
    """Wall-clock bounds on the given day: from–to, since, until."""
    t1, t2 = _CLOCK.format(g="a"), _CLOCK.format(g="b")
    between = rf"(?:from|between|с|со|между)\s+{t1}\s*(?:to|till|until|and|до|по|и|-|–|—)\s*{t2}"
    for m in scan.find(between):
        a, b = _hours(m, "a"), _hours(m, "b")
        if a and b:
            scan.take(m.start(), m.end())
            return _at(base, a), _at(base, b), scan.original(m.start(), m.end())
    for m in scan.find(rf"(?:since|from|after|starting at|с|со|после|начиная с)\s+{t1}"):
        a = _hours(m, "a")
        if a:
            scan.take(m.start(), m.end())
            return _at(base, a), None, scan.original(m.start(), m.end())
    for m in scan.find(rf"(?:until|till|before|up to|до)\s+{t2}"):
        b = _hours(m, "b")
        if b:
            scan.take(m.start(), m.end())
            return None, _at(base, b), scan.original(m.start(), m.end())
    return None


def parse(scan: Scan) -> TimeRange | None:
    """The question's time range, taking its words, or None."""
    found = relative(scan)
    if found is not None:
        return found
    day = _day(scan)
    base = day[0] if day else "now/d"
    bounds = clock(scan, base)
    if bounds is not None:
        gte, lt, words = bounds
        if day is not None:
            words = f"{day[2]} {words}"
            if gte is None:  # "yesterday until 12:00": from the start of that day
                gte = day[0].removesuffix("||") if day[0].endswith("||") else day[0]
        return TimeRange(gte=gte, lt=lt, zoned=True, label=words)
    if day is not None:
        start, end, words = day
        return TimeRange(gte=start.removesuffix("||"), lt=end or None, zoned=True, label=words)
    return None
