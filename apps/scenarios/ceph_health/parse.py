"""Reading `ceph health [detail]` and `ceph status` / `ceph -s`, as text or `-f json`.

Text forms this reads (several may be pasted together, with shell prompts between them):
- `ceph health detail` of Nautilus and later: `[WRN] CODE: summary` with indented detail
  lines, `(MUTED[, STICKY]) ` before muted checks, and the `HEALTH_X summary; summary` header;
- the Luminous/Mimic form `CODE summary` under the same header;
- `ceph health`: the header alone;
- `ceph status`: `health: HEALTH_X` followed by indented summaries (no codes: they are
  recognised from the wording, see summaries.py), the services and the PG states.
JSON: the `health` object of `ceph status -f json` or the top level of `ceph health detail
-f json` (`checks: {CODE: {severity, summary: {message, count}, detail: [{message}], muted}}`).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from apps.scenarios.ceph_health import summaries
from apps.scenarios.engine.base import InputError

NOT_HEALTH = "no HEALTH_OK/WARN/ERR header: this is not health or status output"
SEVERITY_TAGS = {"WRN": "HEALTH_WARN", "ERR": "HEALTH_ERR", "INF": "HEALTH_OK", "OK": "HEALTH_OK"}
STATUSES = ("HEALTH_OK", "HEALTH_WARN", "HEALTH_ERR")

_HEADER = re.compile(r"^(HEALTH_(?:OK|WARN|ERR))\b\s*(.*)$")
_STATUS_HEALTH = re.compile(r"^(\s*)health:\s+(HEALTH_(?:OK|WARN|ERR))\b\s*$")
_MUTED_PREFIX = r"(?:\((?P<muted>MUTED[^)]*)\)\s+)?"
_CHECK = re.compile(
    _MUTED_PREFIX + r"\[(?P<sev>WRN|ERR|INF|OK)\]\s+(?P<code>[A-Z][A-Z0-9_]*):\s*(?P<summary>.*)$"
)
_OLD_CHECK = re.compile(
    _MUTED_PREFIX + r"(?P<code>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\s+(?P<summary>\S.*)$"
)
_MUTES = re.compile(r"\(muted:\s*([^()]*(?:\([^()]*\)[^()]*)*)\)")
_MUTED_CODE = re.compile(r"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)")
# A shell prompt with a ceph command ("[root@mon1 ~]# ceph -s", "$ sudo ceph health detail").
_PROMPT = re.compile(
    r"^(?:(?:\S.*?)?[#$>]\s*)?(?:sudo\s+)?(?:cephadm shell -- )?ceph(?:\s+\S+)*\s*$"
)
_SECTION = re.compile(r"^\s*(cluster|services|data|io|progress|task status|recovery):\s*$")
_PG_STATE = re.compile(r"^(?:pgs:\s+)?(\d+)\s+([a-z_]+(?:\+[a-z_]+)*)$")
_POOLS = re.compile(r"^\s*pools:\s+(\d+) pools?, (\d+) pgs?")
_OSD_LINE = re.compile(r"^\s*osd:\s+(\d+) osds: (\d+) up(?: \([^)]*\))?, (\d+) in")
_MON_LINE = re.compile(r"^\s*mon:\s+(\d+) daemons?, quorum (\S+)(?:.*out of quorum: (\S+))?")
_MGR_LINE = re.compile(r"^\s*mgr:\s+(.+)$")
_PG_DETAIL = re.compile(
    r"^pg (?P<pg>\S+) is (?:stuck \w+ (?:for \S+|since forever), current state (?P<stuck>[^,\s]+)"
    r"|(?:stuck )?(?P<state>[a-z_]+(?:\+[a-z_]+)*))"
)
_PG_COUNTS = re.compile(r"(\d+) pgs? ([a-z_]+)")
_LOOKS_LIKE = (
    (re.compile(r"^\s*ID\s+CLASS\s+WEIGHT\s+TYPE\s+NAME"), "ceph osd tree"),
    (re.compile(r"^\s*ID\s+CLASS\s+WEIGHT\s+REWEIGHT\s+SIZE"), "ceph osd df"),
    (re.compile(r"^-+ RAW STORAGE -+$"), "ceph df"),
    (re.compile(r"^\s*PG_STAT\s+OBJECTS"), "ceph pg dump"),
    (re.compile(r"^\s*POOL\s+SIZE\s+TARGET SIZE"), "ceph osd pool autoscale-status"),
)


@dataclass
class Check:
    """One failing health check as the input shows it."""

    code: str
    severity: str  # HEALTH_WARN / HEALTH_ERR; "" when the input does not say
    summary: str
    line: int | None
    evidence: str
    detail: list[str] = field(default_factory=list)
    count: int | None = None
    muted: bool = False
    source: str = "code"  # "code": named in the input; "summary": recognised; "mute": muted only


@dataclass
class Report:
    status: str = ""
    status_line: int | None = None
    forms: list[str] = field(default_factory=list)  # "health detail", "status", "json"…
    checks: list[Check] = field(default_factory=list)
    muted: list[str] = field(default_factory=list)
    unrecognised: list[tuple[int | None, str]] = field(default_factory=list)
    ignored: list[int] = field(default_factory=list)
    pg_states: Counter[str] = field(default_factory=Counter)  # from status: authoritative
    detail_pg_states: dict[str, str] = field(default_factory=dict)  # pgid -> state, from detail
    pgs_total: int | None = None
    cluster: dict[str, Any] = field(default_factory=dict)
    legacy_detail: list[tuple[int, str]] = field(default_factory=list)  # pre-Luminous detail

    def codes(self) -> list[str]:
        return [c.code for c in self.checks]


def parse(text: str) -> Report:
    stripped = text.lstrip()
    # Output copied from a document or a chat often comes indented as a whole.
    report = _parse_json(text) if stripped.startswith("{") else _parse_text(textwrap.dedent(text))
    if not report.status:
        raise InputError(_not_health_message(text), field="text")
    return report


def _not_health_message(text: str) -> str:
    for line in text.splitlines()[:5]:
        for pattern, command in _LOOKS_LIKE:
            if pattern.search(line):
                return f"{NOT_HEALTH} (it looks like `{command}`); paste `ceph health detail` or `ceph status`"
    return f"{NOT_HEALTH}; paste `ceph health detail` or `ceph status`"


# --- text --------------------------------------------------------------------------------


def _count(summary: str) -> int | None:
    pgs = [int(n) for n, _ in _PG_COUNTS.findall(summary)]
    if pgs and re.search(r"(?:availability|redundancy|damage|backfill|recovery):", summary):
        return sum(pgs)
    m = re.match(r"^(\d+)", summary)
    return int(m.group(1)) if m else None


def _mutes(text: str) -> list[str]:
    out: list[str] = []
    for group in _MUTES.findall(text):
        out += _MUTED_CODE.findall(re.sub(r"\([^)]*\)", " ", group))
    return out


class _TextReader:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.current: Check | None = None
        self.health_indent: int | None = None  # inside `ceph status`'s health lines
        self.section = ""
        self.summaries: list[tuple[int, str]] = []  # header and status summaries, no codes

    def line(self, n: int, raw: str) -> None:
        line = raw.rstrip()
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        if not text:
            self.current = None
            return
        if _PROMPT.match(text):
            self.current, self.health_indent, self.section = None, None, ""
            return
        if self.health_indent is not None:
            if indent > self.health_indent:
                if text.startswith("(muted:"):
                    self.report.muted += _mutes(text)
                else:
                    self.summaries.append((n, text))
                return
            self.health_indent = None
        m = _STATUS_HEALTH.match(line)
        if m:
            self._status(m.group(2), n, "status")
            self.health_indent = len(m.group(1))
            self.section, self.current = "cluster", None
            return
        if indent == 0 and self._detail_or_header(n, text):
            return
        if indent == 0 and self.report.status and self.current is None and self._legacy(n, text):
            return
        if indent and self.current is not None:
            self.current.detail.append(text)
            pg = _PG_DETAIL.match(text)
            if pg:
                state = pg.group("stuck") or pg.group("state")
                self.report.detail_pg_states[pg.group("pg")] = state
            return
        if self._status_line(text):
            return
        self.report.ignored.append(n)

    def _status(self, status: str, n: int, form: str) -> None:
        report = self.report
        # With several outputs pasted, the worst status speaks for the cluster.
        if not report.status or STATUSES.index(status) > STATUSES.index(report.status):
            report.status, report.status_line = status, n
        if form not in report.forms:
            report.forms.append(form)

    def _detail_or_header(self, n: int, text: str) -> bool:
        header = _HEADER.match(text)
        if header:
            self._status(header.group(1), n, "health")
            rest = header.group(2)
            self.report.muted += _mutes(rest)
            for part in _MUTES.sub("", rest).split(";"):
                if part.strip():
                    self.summaries.append((n, part.strip()))
            self.current, self.section = None, ""
            return True
        m = _CHECK.match(text)
        if m is None and self.report.status:
            m = _OLD_CHECK.match(text)  # Luminous/Mimic: only under a health header
        if m is None:
            return False
        sev = SEVERITY_TAGS.get(m.groupdict().get("sev") or "", "")
        summary = m.group("summary").strip()
        check = Check(
            code=m.group("code"),
            severity=sev,
            summary=summary,
            line=n,
            evidence=text,
            count=_count(summary),
            muted=bool(m.group("muted")),
        )
        self.report.checks.append(check)
        if "health detail" not in self.report.forms:
            self.report.forms.append("health detail")
        self.current = check
        return True

    def _legacy(self, n: int, text: str) -> bool:
        """Pre-Luminous detail: ungrouped lines under the header, or a summary repeated."""
        if any(text == summary for _, summary in self.summaries):
            return True
        if summaries.legacy_detail_code(text) is None:
            return False
        self.report.legacy_detail.append((n, text))
        pg = _PG_DETAIL.match(text)
        if pg:
            self.report.detail_pg_states[pg.group("pg")] = pg.group("stuck") or pg.group("state")
        return True

    def _status_line(self, text: str) -> bool:
        """Lines of `ceph status` outside its health block: read for figures, never lost."""
        report = self.report
        section = _SECTION.match(text)
        if section:
            self.section, self.current = section.group(1), None
            return True
        if not self.section:
            return False
        if self.section in ("io", "progress", "task status", "recovery", "cluster"):
            return True
        if m := _OSD_LINE.match(text):
            total, up, in_ = (int(x) for x in m.groups())
            report.cluster["osds"] = {"total": total, "up": up, "in": in_}
        elif m := _MON_LINE.match(text):
            report.cluster["mons"] = {
                "total": int(m.group(1)),
                "quorum": m.group(2).split(","),
                "out_of_quorum": m.group(3).split(",") if m.group(3) else [],
            }
        elif m := _MGR_LINE.match(text):
            report.cluster["mgr"] = m.group(1)
        elif m := _POOLS.match(text):
            report.cluster["pools"] = int(m.group(1))
            report.pgs_total = int(m.group(2))
        elif m := _PG_STATE.match(text):
            report.pg_states[m.group(2)] += int(m.group(1))
        return True

    def finish(self) -> None:
        _add_summaries(self.report, self.summaries)


def _add_summaries(report: Report, found: list[tuple[int, str]]) -> None:
    """Summaries without codes (status, one-liner): add the checks detail did not already give."""
    named = {c.code for c in report.checks}
    seen = {c.summary for c in report.checks}
    for n, summary in found:
        if summary in seen:
            continue
        seen.add(summary)
        code = summaries.recognise(summary)
        if code is None:
            report.unrecognised.append((n, summary))
        elif code not in named:
            named.add(code)
            report.checks.append(
                Check(code, "", summary, n, summary, count=_count(summary), source="summary")
            )
    by_code = {c.code: c for c in report.checks}
    for _n, line in report.legacy_detail:
        target = by_code.get(summaries.legacy_detail_code(line) or "")
        if target is not None:
            target.detail.append(line)
    for code in report.muted:
        if code not in named:
            named.add(code)
            report.checks.append(
                Check(
                    code, "", "", report.status_line, f"(muted: {code})", muted=True, source="mute"
                )
            )


def _parse_text(text: str) -> Report:
    report = Report()
    reader = _TextReader(report)
    for n, raw in enumerate(text.splitlines(), 1):
        reader.line(n, raw.replace("\t", "    "))
    reader.finish()
    return report


# --- JSON --------------------------------------------------------------------------------


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _parse_json(text: str) -> Report:
    decoder = json.JSONDecoder()
    docs: list[tuple[Any, int]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"not valid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno
            ) from None
        except RecursionError:
            raise InputError("the JSON is nested too deeply", line=_line_at(text, pos)) from None
        docs.append((obj, pos))
        pos = end
    report = Report()
    for obj, start in docs:
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", line=_line_at(text, start))
        if isinstance(obj.get("health"), dict):
            _status_json(report, obj)
            health, form = obj["health"], "status json"
        else:
            health, form = obj, "health json"
        if "overall_status" in health and "checks" not in health:
            raise InputError(
                "this is the pre-Luminous health format (overall_status without checks), "
                "which is not read; paste `ceph health detail` text",
                field="overall_status",
            )
        status = health.get("status")
        if status not in STATUSES:
            continue
        if not report.status or STATUSES.index(status) > STATUSES.index(report.status):
            report.status, report.status_line = status, _line_at(text, start)
        report.forms.append(form)
        _checks_json(report, health.get("checks", {}), text)
        for mute in health.get("mutes") or []:
            if isinstance(mute, dict) and isinstance(mute.get("code"), str):
                report.muted.append(mute["code"])
    _add_summaries(report, [])
    return report


def _checks_json(report: Report, checks: Any, text: str) -> None:
    if not isinstance(checks, dict):
        raise InputError("'checks' must be an object of health codes", field="checks")
    named = {c.code for c in report.checks}
    for code, raw in checks.items():
        where = f"checks.{code}"
        if not isinstance(raw, dict):
            raise InputError("expected an object", field=where)
        summary = raw.get("summary")
        if not isinstance(summary, dict) or not isinstance(summary.get("message"), str):
            raise InputError("expected an object with a 'message'", field=f"{where}.summary")
        severity = raw.get("severity")
        if severity not in STATUSES:
            raise InputError(f"unknown severity {severity!r}", field=f"{where}.severity")
        detail = []
        for i, item in enumerate(raw.get("detail") or []):
            if not isinstance(item, dict) or not isinstance(item.get("message"), str):
                raise InputError(
                    "expected an object with a 'message'", field=f"{where}.detail[{i}]"
                )
            detail.append(item["message"])
            pg = _PG_DETAIL.match(item["message"])
            if pg:
                report.detail_pg_states[pg.group("pg")] = pg.group("stuck") or pg.group("state")
        count = summary.get("count")
        if code in named:
            continue  # the same check from a second pasted document
        named.add(code)
        pos = text.find(f'"{code}"')
        report.checks.append(
            Check(
                code=code,
                severity=severity,
                summary=summary["message"],
                line=_line_at(text, pos) if pos >= 0 else None,
                evidence=f"{code}: {summary['message']}",
                detail=detail,
                count=count if isinstance(count, int) else _count(summary["message"]),
                muted=raw.get("muted") is True,
            )
        )


def _status_json(report: Report, doc: dict[str, Any]) -> None:
    pgmap = doc.get("pgmap")
    if isinstance(pgmap, dict):
        for item in pgmap.get("pgs_by_state") or []:
            if isinstance(item, dict) and isinstance(item.get("count"), int):
                report.pg_states[str(item.get("state_name", "?"))] += item["count"]
        if isinstance(pgmap.get("num_pgs"), int):
            report.pgs_total = pgmap["num_pgs"]
    osdmap = doc.get("osdmap")
    if isinstance(osdmap, dict):
        osdmap = osdmap.get("osdmap", osdmap)  # nested before Pacific
        if isinstance(osdmap.get("num_osds"), int):
            report.cluster["osds"] = {
                "total": osdmap["num_osds"],
                "up": osdmap.get("num_up_osds"),
                "in": osdmap.get("num_in_osds"),
            }
    names = doc.get("quorum_names")
    monmap = doc.get("monmap")
    if isinstance(names, list):
        total = monmap.get("num_mons") if isinstance(monmap, dict) else None
        if total is None and isinstance(monmap, dict):
            total = len(monmap.get("mons") or [])
        report.cluster["mons"] = {"total": total, "quorum": names}
