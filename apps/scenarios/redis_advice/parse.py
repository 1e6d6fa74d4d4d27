"""Pasted redis-cli output read into a Snapshot.

One paste may hold several outputs, with or without the prompts between them
(`127.0.0.1:6379> SLOWLOG GET 10`, `$ redis-cli -h cache1 INFO ALL`): INFO (any sections),
SLOWLOG GET, LATENCY LATEST, LATENCY DOCTOR, MEMORY STATS, MEMORY DOCTOR, CONFIG GET and the
summary of `redis-cli --bigkeys` / `--memkeys`. Without a prompt, a numbered reply is told by
its shape. A live collection (JSON, see snapshot.py) is read too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from apps.scenarios.engine.base import InputError
from apps.scenarios.redis_advice import replies
from apps.scenarios.redis_advice.snapshot import (
    FORMAT,
    BigKey,
    KeySample,
    LatencyEvent,
    SlowEntry,
    Snapshot,
)

NOT_INFO = "not INFO output: no redis_version"
# INFO fields that show a paste is INFO even without its Server section (INFO memory, …).
_INFO_KEYS = {
    "redis_version",
    "used_memory",
    "connected_clients",
    "keyspace_hits",
    "role",
    "rdb_last_bgsave_status",
    "total_commands_processed",
    "maxmemory",
}
_CLI_PROMPT = re.compile(
    r"^(?:[\w.\-]+|\[[0-9a-fA-F:.]+\]):\d+(?:\[\d+\])?>\s*(.*)$|^not connected>\s*(.*)$"
)
_SHELL_PROMPT = re.compile(r"^(?:\S.*?)?[$#]\s*(?:sudo\s+)?redis-cli\b(.*)$")
_CLI_OPTS_WITH_VALUE = {
    "-h",
    "-p",
    "-a",
    "-n",
    "-u",
    "--user",
    "--pass",
    "-s",
    "--cacert",
    "--cert",
    "--key",
    "-i",
}
_SECTION = re.compile(r"^# ([A-Z][A-Za-z]*)$")
_KV = re.compile(r"^([a-z][A-Za-z0-9_|.\-]*):(.*)$")
_LATENCY_DOCTOR = re.compile(r"^(?:I'm sorry, )?Dave\b")
_MEMORY_DOCTOR = re.compile(r"^(?:Hi )?Sam\b")
_BIGGEST = re.compile(r"^Biggest\s+(\w+) found '\"?(.*?)\"?' has (\d+) (\w+)")
_SAMPLED = re.compile(r"^Sampled (\d+) keys in the keyspace")
_BIGKEYS_NOISE = re.compile(
    r"^(?:# .*|\[\d+\.\d+%\] .*|-+ summary -+|Total key length .*|\d+ \w+ with \d+ \w+ \(.*\))$"
)


def _command(args: str) -> str:
    """The command of a prompt line, upper case, with the subcommand: 'SLOWLOG GET'."""
    words = args.split()
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word in _CLI_OPTS_WITH_VALUE:
            skip = True
            continue
        if word in ("--bigkeys", "--memkeys"):
            return word
        if word.startswith("-"):
            continue
        out.append(word.upper())
    if not out:
        return ""
    if out[0] in ("SLOWLOG", "LATENCY", "MEMORY", "CONFIG") and len(out) > 1:
        return f"{out[0]} {out[1]}"
    return out[0]


class _Reader:
    def __init__(self) -> None:
        self.snap = Snapshot()
        self.command = ""
        self.reply: list[tuple[int, str]] = []
        self.doctor: tuple[str, int, list[str]] | None = None  # kind, first line, lines
        self.bigkeys: KeySample | None = None

    def feed(self, n: int, line: str) -> None:
        m = _CLI_PROMPT.match(line) or _SHELL_PROMPT.match(line)
        if m:
            self.flush()
            self.command = _command(next(g for g in m.groups() if g is not None) or "")
            return
        if replies.is_reply_line(line) and (self.doctor is None or replies.is_typed(line)):
            self.end_doctor()
            self.reply.append((n, line))
            return
        self.flush_reply()
        if self.doctor is not None:
            if _SECTION.match(line):
                self.end_doctor()
            else:
                self.doctor[2].append(line)
                return
        stripped = line.strip()
        if not stripped:
            return
        if _LATENCY_DOCTOR.match(stripped) or _MEMORY_DOCTOR.match(stripped):
            kind = "latency" if _LATENCY_DOCTOR.match(stripped) else "memory"
            self.doctor = (kind, n, [stripped])
            return
        if self._bigkeys(n, stripped):
            return
        if _SECTION.match(stripped):
            return
        kv = _KV.match(stripped)
        if kv:
            self.snap.info[kv.group(1)] = kv.group(2).strip()
            self.snap.lines[kv.group(1)] = n
            return
        if self.command and replies.scalar(stripped) == []:
            self._empty_reply()
            return
        self.snap.ignored.append(n)

    # --- replies -------------------------------------------------------------------------

    def flush(self) -> None:
        self.flush_reply()
        self.end_doctor()

    def flush_reply(self) -> None:
        if not self.reply:
            return
        lines = [text for _, text in self.reply]
        numbers = [n for n, _ in self.reply]
        self.reply = []
        try:
            value = replies.parse(lines)
        except ValueError:
            self.snap.ignored += numbers
            return
        root_col = replies.first_marker_end(lines[0])
        starts = [
            n
            for n, text in zip(numbers, lines, strict=True)
            if replies.first_marker_end(text) == root_col
        ]
        if not self._store(value, starts):
            self.snap.ignored += numbers

    def _kind(self, value: list[Any]) -> str:
        command = self.command
        if command.startswith("SLOWLOG") or (
            command == "" and value and all(_is_slow_entry(e) for e in value)
        ):
            return "slowlog"
        if command == "LATENCY LATEST" or (
            command == "" and value and all(_is_latency(e) for e in value)
        ):
            return "latency"
        flat = all(not isinstance(e, list) for e in value[::2])
        if command == "MEMORY STATS" or (command == "" and flat and "peak.allocated" in value[::2]):
            return "memory"
        if command == "CONFIG GET" or (
            command == ""
            and flat
            and len(value) % 2 == 0
            and value
            and all(isinstance(e, str) for e in value)
        ):
            return "config"
        return ""

    def _store(self, value: list[Any], starts: list[int]) -> bool:
        kind = self._kind(value)
        snap = self.snap
        if kind == "slowlog":
            snap.slowlog_seen = True
            for entry, line in zip(value, starts, strict=False):
                if _is_slow_entry(entry):
                    snap.slowlog.append(_slow_entry(entry, line))
        elif kind == "latency":
            snap.latency_seen = True
            for entry, line in zip(value, starts, strict=False):
                if _is_latency(entry):
                    snap.latency.append(LatencyEvent(entry[0], entry[1], entry[2], entry[3], line))
        elif kind == "memory":
            snap.memory_stats.update(replies.pairs(value))
        elif kind == "config":
            for i, (key, val) in enumerate(replies.pairs(value).items()):
                snap.config[key] = str(val)
                snap.lines[f"config:{key}"] = starts[2 * i] if 2 * i < len(starts) else starts[0]
        return bool(kind)

    def _empty_reply(self) -> None:
        if self.command.startswith("SLOWLOG"):
            self.snap.slowlog_seen = True
        elif self.command == "LATENCY LATEST":
            self.snap.latency_seen = True

    # --- doctors and --bigkeys -----------------------------------------------------------

    def end_doctor(self) -> None:
        if self.doctor is None:
            return
        kind, first, lines = self.doctor
        self.doctor = None
        text = "\n".join(lines).strip()
        if kind == "latency":
            self.snap.latency_doctor = text
        else:
            self.snap.memory_doctor = text
        self.snap.doctor_lines[kind] = first

    def _bigkeys(self, n: int, line: str) -> bool:
        m = _SAMPLED.match(line)
        big = _BIGGEST.match(line)
        if m is None and big is None:
            return bool(self.bigkeys is not None and _BIGKEYS_NOISE.match(line)) or line.startswith(
                "# Scanning the entire keyspace"
            )
        if self.bigkeys is None:
            method = "memkeys" if self.command == "--memkeys" else "bigkeys"
            self.bigkeys = self.snap.keys = KeySample(method=method, complete=True)
        if m:
            self.bigkeys.sampled = int(m.group(1))
        elif big:
            type_, key, amount, unit = big.groups()
            if unit == "bytes" and type_ != "string":
                self.bigkeys.method = "memkeys"
            entry = BigKey(key=replies.unquote(key), type=type_, line=n)
            if unit == "bytes" and (type_ != "string" or self.bigkeys.method == "memkeys"):
                entry.bytes = int(amount)
            else:
                entry.length = int(amount)
            self.bigkeys.keys.append(entry)
        return True


def _is_slow_entry(entry: Any) -> bool:
    return (
        isinstance(entry, list)
        and len(entry) >= 4
        and all(isinstance(x, int) for x in entry[:3])
        and isinstance(entry[3], list)
    )


def _slow_entry(entry: list[Any], line: int) -> SlowEntry:
    client = str(entry[4]) if len(entry) > 4 else ""
    name = str(entry[5]) if len(entry) > 5 else ""
    return SlowEntry(entry[0], entry[1], entry[2], [str(a) for a in entry[3]], client, name, line)


def _is_latency(entry: Any) -> bool:
    return (
        isinstance(entry, list)
        and len(entry) >= 4
        and isinstance(entry[0], str)
        and all(isinstance(x, int) for x in entry[1:4])
    )


def _from_json(text: str) -> Snapshot:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    except RecursionError:
        raise InputError("the JSON is nested too deeply", field="text") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InputError(f"{NOT_INFO} (JSON that is not a Redis snapshot)", field="format")
    try:
        return Snapshot.from_json(raw)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise InputError(f"a malformed Redis snapshot: {exc}", field="text") from None


def parse(text: str) -> Snapshot:
    if text.lstrip().startswith("{"):
        snap = _from_json(text)
    else:
        reader = _Reader()
        for n, raw in enumerate(text.splitlines(), 1):
            reader.feed(n, raw.rstrip("\r\n").rstrip())
        reader.flush()
        snap = reader.snap
    if not (
        _INFO_KEYS & snap.info.keys()
        or snap.slowlog_seen
        or snap.latency_seen
        or snap.memory_stats
        or snap.latency_doctor
        or snap.memory_doctor
        or snap.keys
    ):
        first = next((n for n, line in enumerate(text.splitlines(), 1) if line.strip()), None)
        raise InputError(NOT_INFO, line=first, field="text")
    # INFO-looking lines that are not INFO (a YAML or .env file) must not count as read.
    if not _INFO_KEYS & snap.info.keys() and snap.info:
        snap.ignored += [snap.lines.pop(key) for key in snap.info if key in snap.lines]
        snap.info.clear()
    snap.ignored.sort()
    return snap
