"""Collecting a Snapshot from a live Redis with read-only commands only.

Every command goes through `_guard`, which lets through only the commands listed in
READ_ONLY: INFO, SLOWLOG GET, LATENCY LATEST/DOCTOR, MEMORY STATS/DOCTOR/USAGE, CONFIG GET,
and for the big-key sample SCAN, TYPE and the O(1) length commands (SELECT moves between
databases). The raw redis-py connection is used so that no client library sends anything of
its own (CLIENT SETINFO, CLIENT SETNAME); AUTH is sent when a password is given.

The big-key sample is bounded twice: at most `max_keys` keys, and at most `seconds` of SCAN;
KEYS is never used. A command the server refuses (renamed, ACL) is recorded and skipped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis
from redis.connection import Connection, SSLConnection

from apps.scenarios.redis_advice.snapshot import (
    BigKey,
    KeySample,
    LatencyEvent,
    SlowEntry,
    Snapshot,
)
from apps.scenarios.redis_advice.target import Target

READ_ONLY = frozenset(
    {
        "INFO",
        "SLOWLOG GET",
        "LATENCY LATEST",
        "LATENCY DOCTOR",
        "MEMORY STATS",
        "MEMORY DOCTOR",
        "MEMORY USAGE",
        "CONFIG GET",
        "DBSIZE",
        "SELECT",
        "SCAN",
        "TYPE",
        "STRLEN",
        "HLEN",
        "LLEN",
        "SCARD",
        "ZCARD",
        "XLEN",
    }
)
# Memory and persistence settings the rules read.
CONFIG_KEYS = (
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "save",
    "appendonly",
    "appendfsync",
    "stop-writes-on-bgsave-error",
    "activedefrag",
    "maxclients",
    "min-replicas-to-write",
    "repl-backlog-size",
    "slowlog-log-slower-than",
    "latency-monitor-threshold",
    "lazyfree-lazy-eviction",
    "busy-reply-threshold",
    "lua-time-limit",
)
LENGTH = {
    "string": "STRLEN",
    "hash": "HLEN",
    "list": "LLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "stream": "XLEN",
}
# The newest slow-log entries kept, read from the whole log (up to SLOWLOG_READ, for a server
# configured to keep more) without the collector's own commands (_own): on a busy server an
# earlier snapshot's SCAN and MEMORY USAGE calls are logged too, hundreds for a large keyspace,
# and would otherwise push out the commands that made the server slow and be reported as slow
# themselves.
SLOWLOG_ENTRIES = 128
SLOWLOG_READ = 10_000
SCAN_COUNT = 1000
MEMORY_SAMPLES = 5
KEEP_BIG = 50  # the biggest keys kept with their sizes
DEFAULT_MAX_KEYS = 100_000
# The page's findings should come within a second: the sample takes at most half of it by
# default (collections first); a target may allow more.
DEFAULT_SECONDS = 0.5


class NotReadOnly(RuntimeError):
    """A command outside READ_ONLY was about to be sent: a bug, never sent."""


class Unreachable(Exception):
    """The instance could not be reached or refused the credentials."""


def _name(args: Sequence[Any]) -> str:
    first = str(args[0]).upper()
    if first in ("SLOWLOG", "LATENCY", "MEMORY", "CONFIG") and len(args) > 1:
        return f"{first} {str(args[1]).upper()}"
    return first


def _guard(args: Sequence[Any]) -> Sequence[Any]:
    if _name(args) not in READ_ONLY:
        raise NotReadOnly(f"{_name(args)} is not a read-only command of this collector")
    return args


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return _text(value)
    return value


class _Session:
    def __init__(self, target: Target, timeout: float) -> None:
        cls = SSLConnection if target.tls else Connection
        self.conn = cls(
            host=target.host,
            port=target.port,
            db=0,
            username=target.username or None,
            password=target.password or None,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            driver_info=None,  # no CLIENT SETINFO: only the commands listed above are sent
        )
        self.db = 0

    def call(self, *args: Any) -> Any:
        self.conn.send_command(*_guard(args))
        return self.conn.read_response()

    def many(self, commands: Iterable[Sequence[Any]]) -> list[Any]:
        """Pipelined: one round trip for the batch; an error reply stays in its place."""
        batch = [_guard(c) for c in commands]
        if not batch:
            return []
        self.conn.send_packed_command(self.conn.pack_commands(batch))
        out: list[Any] = []
        for _ in batch:
            try:
                out.append(self.conn.read_response())
            except redis.ResponseError as exc:
                out.append(exc)
        return out

    def select(self, db: int) -> None:
        if db != self.db:
            self.call("SELECT", db)
            self.db = db


def snapshot(
    target: Target,
    *,
    max_keys: int = DEFAULT_MAX_KEYS,
    seconds: float = DEFAULT_SECONDS,
    timeout: float = 5.0,
) -> Snapshot:
    """Everything the rules read, from the instance itself. Raises Unreachable."""
    session = _Session(target, timeout)
    snap = Snapshot(
        source="live",
        target=target.display(),
        collected_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    try:
        session.conn.connect()
    except (
        redis.ConnectionError,
        redis.TimeoutError,
        redis.AuthenticationError,
        redis.ResponseError,
        OSError,
    ) as exc:
        raise Unreachable(f"{target.display()}: {exc}") from None
    try:
        _collect(session, snap, target, max_keys, seconds)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise Unreachable(f"{target.display()}: {exc}") from None
    finally:
        session.conn.disconnect()
    return snap


def _try(snap: Snapshot, label: str, session: _Session, *args: Any) -> Any:
    try:
        return session.call(*args)
    except redis.ResponseError as exc:
        snap.errors[label] = str(exc)
        return None


def _collect(
    session: _Session, snap: Snapshot, target: Target, max_keys: int, seconds: float
) -> None:
    info = _try(snap, "INFO", session, "INFO", "ALL") or _try(snap, "INFO", session, "INFO")
    if info is not None:
        for line in _text(info).splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith("#"):
                snap.info[key] = value.strip()
    slowlog = _try(snap, "SLOWLOG GET", session, "SLOWLOG", "GET", SLOWLOG_READ)
    if isinstance(slowlog, list):
        snap.slowlog_seen = True
        for e in _plain(slowlog):
            if isinstance(e, list) and len(e) >= 4 and isinstance(e[3], list):
                args = [str(a) for a in e[3]]
                if _own(args):
                    continue
                client = str(e[4]) if len(e) > 4 else ""
                name = str(e[5]) if len(e) > 5 else ""
                snap.slowlog.append(SlowEntry(e[0], e[1], e[2], args, client, name))
                if len(snap.slowlog) == SLOWLOG_ENTRIES:
                    break
    latest = _try(snap, "LATENCY LATEST", session, "LATENCY", "LATEST")
    if isinstance(latest, list):
        snap.latency_seen = True
        for e in _plain(latest):
            if isinstance(e, list) and len(e) >= 4:
                snap.latency.append(LatencyEvent(str(e[0]), int(e[1]), int(e[2]), int(e[3])))
    snap.latency_doctor = _text(
        _try(snap, "LATENCY DOCTOR", session, "LATENCY", "DOCTOR") or ""
    ).strip()
    stats = _try(snap, "MEMORY STATS", session, "MEMORY", "STATS")
    if isinstance(stats, list):
        flat = _plain(stats)
        snap.memory_stats = {str(flat[i]): flat[i + 1] for i in range(0, len(flat) - 1, 2)}
    snap.memory_doctor = _text(
        _try(snap, "MEMORY DOCTOR", session, "MEMORY", "DOCTOR") or ""
    ).strip()
    for key in CONFIG_KEYS:
        reply = _try(snap, "CONFIG GET", session, "CONFIG", "GET", key)
        if isinstance(reply, list) and len(reply) >= 2:
            snap.config[_text(reply[0])] = _text(reply[1])
    snap.keys = _sample(session, snap, target, max_keys, seconds)


def _own(args: list[str]) -> bool:
    """Whether a slow-log entry has the exact shape of a command the collector sends (an
    earlier snapshot's): on a busy server its SCANs and MEMORY USAGE calls, even its O(1) reads,
    pass the threshold. An engineer's own commands of these kinds either look different (another
    COUNT, no SAMPLES, INFO without ALL) or cost O(1) anyway, so nothing the rules need is lost."""
    if not args:
        return False
    name, upper = _name(args), [a.upper() for a in args]
    if name == "SCAN":
        return (
            len(args) in (4, 6)
            and args[1].isdigit()
            and upper[2:4] == ["COUNT", str(SCAN_COUNT)]
            and (len(args) == 4 or upper[4] == "TYPE")
        )
    if name == "MEMORY USAGE":
        return len(args) == 5 and upper[3:] == ["SAMPLES", str(MEMORY_SAMPLES)]
    if name in ("TYPE", "SELECT", *LENGTH.values()):
        return len(args) == 2
    if name in ("LATENCY LATEST", "LATENCY DOCTOR", "MEMORY STATS", "MEMORY DOCTOR"):
        return len(args) == 2
    return (
        upper == ["INFO", "ALL"]
        or (name == "CONFIG GET" and len(args) == 3 and args[2] in CONFIG_KEYS)
        or upper == ["SLOWLOG", "GET", str(SLOWLOG_READ)]
    )


def _sample(
    session: _Session, snap: Snapshot, target: Target, max_keys: int, seconds: float
) -> KeySample:
    """A bounded SCAN over the databases that hold keys, sized with MEMORY USAGE.

    Collections are scanned first, one SCAN … TYPE pass per type, because the keys that block
    a server are almost always big hashes, sets, sorted sets, lists or streams, and the server
    filters them cheaply; strings get what is left of the bounds. Before Redis 6 (no TYPE
    option) one plain pass sizes every key it reaches."""
    sample = KeySample(method="scan", limit_keys=max_keys, limit_seconds=seconds)
    keyspace = {int(k[2:]): v for k, v in snap.keyspace().items()}
    dbs = sorted(keyspace) or [target.db]
    sample.dbsize = sum(int(v.get("keys", "0")) for v in keyspace.values()) if keyspace else None
    state = _Scan(session, sample, max_keys, time.monotonic() + seconds)
    complete = True
    for db in dbs:
        try:
            session.select(db)
        except redis.ResponseError as exc:
            snap.errors["SELECT"] = str(exc)
            complete = False
            continue
        for type_ in (*COLLECTIONS, "string"):
            try:
                complete = state.scan(db, type_) and complete
            except redis.ResponseError:  # no SCAN … TYPE before Redis 6
                complete = state.scan(db, None) and complete
                break
    _lengths(session, state.found)
    sample.keys = [k for k, _ in state.found]
    sample.complete = complete
    sample.seconds = round(time.monotonic() + seconds - state.deadline, 3)
    return sample


COLLECTIONS = ("hash", "zset", "set", "list", "stream")


class _Scan:
    def __init__(
        self, session: _Session, sample: KeySample, max_keys: int, deadline: float
    ) -> None:
        self.session, self.sample = session, sample
        self.max_keys, self.deadline = max_keys, deadline
        self.found: list[tuple[BigKey, bytes]] = []  # with the raw name: keys may be any bytes

    def scan(self, db: int, type_: str | None) -> bool:
        """One pass; False when a bound stopped it."""
        cursor = 0
        while True:
            if self.sample.sampled >= self.max_keys or time.monotonic() >= self.deadline:
                return False
            # COUNT stays small: each call blocks the server while it walks that many slots.
            args: tuple[Any, ...] = ("SCAN", cursor, "COUNT", SCAN_COUNT)
            reply = self.session.call(*args, *(("TYPE", type_) if type_ else ()))
            cursor = int(reply[0])
            keys = list(reply[1])[: max(0, self.max_keys - self.sample.sampled)]
            self.sample.sampled += len(keys)
            if keys:
                self.found += _sizes(self.session, keys, db)
                self.found.sort(key=lambda kr: kr[0].bytes or 0, reverse=True)
                del self.found[KEEP_BIG:]
            if cursor == 0:
                return True


def _sizes(session: _Session, keys: list[bytes], db: int) -> list[tuple[BigKey, bytes]]:
    replies = session.many([("MEMORY", "USAGE", k, "SAMPLES", MEMORY_SAMPLES) for k in keys])
    return [
        (BigKey(key=_text(k), bytes=r, db=db), k)
        for k, r in zip(keys, replies, strict=True)
        if isinstance(r, int)
    ]


def _lengths(session: _Session, found: list[tuple[BigKey, bytes]]) -> None:
    """Type and element count of the keys kept (O(1) each)."""
    by_db: dict[int, list[tuple[BigKey, bytes]]] = {}
    for item in found:
        by_db.setdefault(item[0].db, []).append(item)
    for db, group in by_db.items():
        session.select(db)
        types = session.many([("TYPE", raw) for _, raw in group])
        for (key, _), t in zip(group, types, strict=True):
            key.type = _text(t) if not isinstance(t, Exception) else ""
        sized = [(key, raw) for key, raw in group if key.type in LENGTH]
        lengths = session.many([(LENGTH[key.type], raw) for key, raw in sized])
        for (key, _), n in zip(sized, lengths, strict=True):
            key.length = n if isinstance(n, int) else None


def probe(target: Target, timeout: float = 5.0) -> dict[str, str]:
    """INFO server and memory only: whether the URL and the password work."""
    session = _Session(target, timeout)
    try:
        session.conn.connect()
        text = _text(session.call("INFO", "server")) + _text(session.call("INFO", "memory"))
        text += _text(session.call("INFO", "replication"))
    except (redis.RedisError, OSError) as exc:
        raise Unreachable(f"{target.display()}: {exc}") from None
    finally:
        session.conn.disconnect()
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key] = value.strip()
    return info
