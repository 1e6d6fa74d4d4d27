"""What the rules read about one Redis instance: INFO, the slow log, latency events, memory
stats, settings and a sample of big keys, from pasted output or collected live.

A live collection is kept as a JSON document (format `opsdesk.redis-snapshot/1`) that is the
run's input: the analysis reads it exactly like pasted text, so a stored run can be analysed
again and gives the same findings.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT = "opsdesk.redis-snapshot/1"


@dataclass
class SlowEntry:
    id: int
    timestamp: int
    usec: int
    args: list[str]
    client: str = ""
    name: str = ""
    line: int | None = None

    @property
    def command(self) -> str:
        return self.args[0].upper() if self.args else "?"


@dataclass
class LatencyEvent:
    event: str
    timestamp: int
    latest_ms: int
    max_ms: int
    line: int | None = None


@dataclass
class BigKey:
    key: str
    type: str = ""
    bytes: int | None = None
    length: int | None = None  # elements of a collection, characters of a string
    db: int = 0
    line: int | None = None


@dataclass
class KeySample:
    """How the big keys were found: a bounded SCAN with MEMORY USAGE, or `redis-cli --bigkeys`."""

    method: str  # "scan" | "bigkeys" | "memkeys"
    keys: list[BigKey] = field(default_factory=list)
    sampled: int = 0
    dbsize: int | None = None
    complete: bool = False  # the whole keyspace was seen
    seconds: float = 0.0
    limit_keys: int | None = None
    limit_seconds: float | None = None


@dataclass
class Snapshot:
    info: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # INFO or CONFIG key -> input line
    slowlog: list[SlowEntry] = field(default_factory=list)
    slowlog_seen: bool = False  # a SLOWLOG GET reply was given, even an empty one
    latency: list[LatencyEvent] = field(default_factory=list)
    latency_seen: bool = False
    latency_doctor: str = ""
    memory_stats: dict[str, Any] = field(default_factory=dict)
    memory_doctor: str = ""
    doctor_lines: dict[str, int] = field(default_factory=dict)  # "latency"/"memory" -> line
    config: dict[str, str] = field(default_factory=dict)
    keys: KeySample | None = None
    source: str = "pasted"  # or "live"
    target: str = ""
    collected_at: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # command -> why it was not read
    ignored: list[int] = field(default_factory=list)  # pasted lines nothing read

    # --- INFO, typed ---------------------------------------------------------------------

    def has_info(self) -> bool:
        return bool(self.info)

    def num(self, key: str) -> float | None:
        raw = self.info.get(key)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    def integer(self, key: str) -> int | None:
        value = self.num(key)
        return int(value) if value is not None else None

    def field_number(self, key: str, name: str) -> float | None:
        """One number of a `db0:keys=1,expires=0` style field; None when absent or not a number."""
        return to_number(self.fields(key).get(name))

    def fields(self, key: str) -> dict[str, str]:
        """`db0:keys=1,expires=0` or `cmdstat_get:calls=…` as a dict."""
        return dict(p.split("=", 1) for p in self.info.get(key, "").split(",") if "=" in p)

    def prefixed(self, prefix: str) -> dict[str, dict[str, str]]:
        return {k[len(prefix) :]: self.fields(k) for k in self.info if k.startswith(prefix)}

    def keyspace(self) -> dict[str, dict[str, str]]:
        return {k: self.fields(k) for k in self.info if re.fullmatch(r"db\d+", k)}

    def line(self, key: str) -> int | None:
        return self.lines.get(key)

    # --- JSON form of a live collection ----------------------------------------------------

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("lines")
        data.pop("doctor_lines")
        data.pop("ignored")
        return json.dumps({"format": FORMAT, **data}, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Snapshot:
        """Raises TypeError or ValueError when a field does not have its type."""
        snap = cls(
            info=_str_map(raw.get("info")),
            slowlog=[
                SlowEntry(
                    _int(e["id"]),
                    _int(e["timestamp"]),
                    _int(e["usec"]),
                    _str_list(e["args"]),
                    _str(e.get("client", "")),
                    _str(e.get("name", "")),
                )
                for e in _list(raw.get("slowlog"))
            ],
            slowlog_seen=bool(raw.get("slowlog_seen")),
            latency=[
                LatencyEvent(
                    _str(e["event"]), _int(e["timestamp"]), _int(e["latest_ms"]), _int(e["max_ms"])
                )
                for e in _list(raw.get("latency"))
            ],
            latency_seen=bool(raw.get("latency_seen")),
            latency_doctor=_str(raw.get("latency_doctor") or ""),
            memory_stats=dict(raw.get("memory_stats") or {}),
            memory_doctor=_str(raw.get("memory_doctor") or ""),
            config=_str_map(raw.get("config")),
            source=_str(raw.get("source") or "live"),
            target=_str(raw.get("target") or ""),
            collected_at=_str(raw.get("collected_at") or ""),
            errors=_str_map(raw.get("errors")),
        )
        keys = raw.get("keys")
        if keys is not None:
            if not isinstance(keys, dict):
                raise TypeError("keys must be an object")
            snap.keys = KeySample(
                method=_str(keys.get("method", "scan")),
                keys=[
                    BigKey(
                        key=_str(k["key"]),
                        type=_str(k.get("type", "")),
                        bytes=None if k.get("bytes") is None else _int(k["bytes"]),
                        length=None if k.get("length") is None else _int(k["length"]),
                        db=_int(k.get("db", 0)),
                    )
                    for k in _list(keys.get("keys"))
                ],
                sampled=_int(keys.get("sampled", 0)),
                dbsize=None if keys.get("dbsize") is None else _int(keys["dbsize"]),
                complete=bool(keys.get("complete")),
                seconds=float(keys.get("seconds", 0.0)),
            )
        return snap


def to_number(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, not {value!r:.40}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, not {value!r:.40}")
    return value


def _list(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TypeError("expected a list of objects")
    return value


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise TypeError("expected a list of strings")
    return [_str(v) for v in value]


def _str_map(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError("expected an object")
    return {_str(k): _str(v) for k, v in value.items()}
