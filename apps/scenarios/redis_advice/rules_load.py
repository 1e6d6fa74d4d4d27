"""Load rules: replication, clients, slow commands (slow log, command stats, latency events),
the memory doctor's report and big keys."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.redis_advice.figures import MIB, config, count, evidence, ms, percent, size
from apps.scenarios.redis_advice.snapshot import SlowEntry, Snapshot, to_number

REPLICA_LAG_SECONDS = 10
REPLICA_BEHIND_BYTES = 10 * MIB
MASTER_SILENT_SECONDS = 30
BLOCKED_SHARE, BLOCKED_MIN = 0.5, 20
CLIENTS_NEAR_MAX = 0.8
OUTPUT_BUFFER_BYTES = 64 * MIB
SLOW_OTHER_USEC = 10_000
COMMANDSTAT_SLOW_USEC, COMMANDSTAT_MIN_CALLS = 10_000, 10
LATENCY_EVENT_MS = 100
BIG_KEY_BYTES, BIG_KEY_ELEMENTS = 10 * MIB, 100_000

# Commands that read a whole collection: O(N) in its size.
WHOLE_COLLECTION = {
    "SMEMBERS": "SSCAN",
    "HGETALL": "HSCAN",
    "HKEYS": "HSCAN",
    "HVALS": "HSCAN",
    "LRANGE": "LRANGE with a bounded range",
    "ZRANGE": "ZRANGE with LIMIT or ZSCAN",
    "ZRANGEBYSCORE": "ZRANGEBYSCORE with LIMIT",
    "ZREVRANGE": "ZREVRANGE with a bounded range",
    "SUNION": "SSCAN",
    "SINTER": "SSCAN",
    "SDIFF": "SSCAN",
    "SORT": "SORT with LIMIT, or sorting on the client",
}
SCRIPTS = {"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"}


def replication(snap: Snapshot) -> list[Finding]:
    role = snap.info.get("role")
    out: list[Finding] = []
    if role == "slave":
        if snap.info.get("master_link_status") == "down":
            ev, line = evidence(
                snap, "master_link_status", "master_link_down_since_seconds", "master_host"
            )
            out.append(
                Finding(
                    Severity.ERROR,
                    "redis.replication-link-down",
                    _("This replica has lost its master (%(host)s:%(port)s) for %(secs)s s.")
                    % {
                        "host": snap.info.get("master_host", "?"),
                        "port": snap.info.get("master_port", "?"),
                        "secs": snap.info.get("master_link_down_since_seconds", "?"),
                    },
                    line,
                    ev,
                    why=_(
                        "It serves data that gets staler every second, and a failover to it would lose writes."
                    ),
                    fix=_(
                        "Check that the master is up and reachable from here (network, masterauth, the master's maxclients), and read both logs."
                    ),
                    refs=("master_link_status", "replicaof"),
                )
            )
        elif (snap.integer("master_last_io_seconds_ago") or 0) > MASTER_SILENT_SECONDS:
            ev, line = evidence(snap, "master_last_io_seconds_ago")
            out.append(
                Finding(
                    Severity.WARNING,
                    "redis.replication-silent",
                    _("Nothing came from the master for %(secs)s s.")
                    % {"secs": snap.info["master_last_io_seconds_ago"]},
                    line,
                    ev,
                    fix=_("Check the network between master and replica and the master's load."),
                    refs=("master_last_io_seconds_ago",),
                )
            )
        if snap.info.get("master_sync_in_progress") == "1":
            ev, line = evidence(snap, "master_sync_in_progress")
            out.append(
                Finding(
                    Severity.WARNING,
                    "redis.full-sync",
                    _("A full resynchronisation from the master is in progress."),
                    line,
                    ev,
                    why=_(
                        "The master forks and sends the whole data set; repeated full syncs mean the backlog is too small."
                    ),
                    fix=_("If it repeats, raise repl-backlog-size on the master."),
                    refs=("repl-backlog-size",),
                )
            )
    if role == "master":
        out += _replicas(snap)
    return out


def _replicas(snap: Snapshot) -> list[Finding]:
    out: list[Finding] = []
    master_offset = snap.integer("master_repl_offset") or 0
    for name, fields in sorted(snap.prefixed("slave").items()):
        if not name.isdigit():
            continue
        key = f"slave{name}"
        lag = int(to_number(fields.get("lag")) or 0)
        offset = to_number(fields.get("offset"))
        behind = int(master_offset - offset) if offset is not None else 0
        state = fields.get("state", "")
        if (
            lag <= REPLICA_LAG_SECONDS
            and behind <= REPLICA_BEHIND_BYTES
            and state in ("online", "")
        ):
            continue
        ev, line = evidence(snap, key)
        out.append(
            Finding(
                Severity.WARNING,
                "redis.replica-lag",
                _(
                    "Replica %(ip)s:%(port)s is %(state)s, %(lag)s s behind, %(bytes)s of replication stream behind."
                )
                % {
                    "ip": fields.get("ip", "?"),
                    "port": fields.get("port", "?"),
                    "state": state or "?",
                    "lag": lag,
                    "bytes": size(behind),
                },
                line,
                ev,
                why=_(
                    "Reads from it are stale, and a failover to it loses the writes it has not received."
                ),
                fix=_(
                    "Check the replica's host (CPU, disk for its own persistence), the network, and big writes on the master."
                ),
                refs=("repl-backlog-size", "replica lag"),
                data={"lag": lag, "behind_bytes": behind, "state": state},
            )
        )
    needed = config(snap, "min-replicas-to-write")
    connected = snap.integer("connected_slaves")
    if (
        needed
        and needed.isdigit()
        and int(needed) > 0
        and connected is not None
        and connected < int(needed)
    ):
        ev, line = evidence(snap, "connected_slaves")
        out.append(
            Finding(
                Severity.CRITICAL,
                "redis.noreplicas",
                _(
                    "min-replicas-to-write is %(n)s but %(c)s replicas are connected: writes are refused with NOREPLICAS."
                )
                % {"n": needed, "c": connected},
                line,
                ev,
                fix=_("Bring the replicas back, or lower min-replicas-to-write knowingly."),
                refs=("min-replicas-to-write",),
            )
        )
    return out


def clients(snap: Snapshot) -> list[Finding]:
    out: list[Finding] = []
    blocked, connected = (
        snap.integer("blocked_clients") or 0,
        snap.integer("connected_clients") or 0,
    )
    if blocked:
        ev, line = evidence(snap, "blocked_clients", "connected_clients")
        heavy = connected and blocked >= BLOCKED_SHARE * connected and blocked >= BLOCKED_MIN
        out.append(
            Finding(
                Severity.WARNING if heavy else Severity.INFO,
                "redis.blocked-clients",
                _(
                    "Clients blocked in a blocking command (BLPOP, BRPOP, XREAD, WAIT…): %(b)s of %(c)s."
                )
                % {"b": count(blocked), "c": count(connected)},
                line,
                ev,
                why=_(
                    "Normal for queue consumers; a rise with no matching work means producers stopped or consumers wait on the wrong keys."
                ),
                fix=_(
                    "See which commands they wait in with `CLIENT LIST` (cmd= field) and whether the queues get pushes."
                ),
                refs=("blocked_clients",),
                data={"blocked": blocked, "connected": connected},
            )
        )
    limit = snap.integer("maxclients") or int(to_number(config(snap, "maxclients")) or 0)
    if limit and connected >= CLIENTS_NEAR_MAX * limit:
        ev, line = evidence(snap, "connected_clients", "maxclients")
        out.append(
            Finding(
                Severity.WARNING,
                "redis.clients-near-max",
                _("Connected clients: %(c)s, %(share)s of maxclients %(max)s.")
                % {"c": count(connected), "share": percent(connected / limit), "max": count(limit)},
                line,
                ev,
                fix=_(
                    "Find leaking or oversized pools with CLIENT LIST; raise maxclients with the open-files limit if the load is real."
                ),
                refs=("maxclients",),
            )
        )
    buffer = snap.integer("client_recent_max_output_buffer") or 0
    if buffer >= OUTPUT_BUFFER_BYTES:
        ev, line = evidence(snap, "client_recent_max_output_buffer")
        out.append(
            Finding(
                Severity.WARNING,
                "redis.output-buffer",
                _(
                    "A client's output buffer reached %(size)s: it reads slower than Redis answers (a pub/sub subscriber, a huge reply)."
                )
                % {"size": size(buffer)},
                line,
                ev,
                fix=_(
                    "Find it with CLIENT LIST (omem=); fix the slow consumer or the big reads; client-output-buffer-limit caps it."
                ),
                refs=("client-output-buffer-limit",),
            )
        )
    return out


def _group(entries: list[SlowEntry]) -> dict[str, list[SlowEntry]]:
    grouped: dict[str, list[SlowEntry]] = defaultdict(list)
    for entry in entries:
        grouped[entry.command].append(entry)
    return grouped


def _shown(args: list[str], limit: int = 120) -> str:
    text = " ".join(args)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slow_commands(snap: Snapshot) -> list[Finding]:
    out: list[Finding] = []
    stats = snap.prefixed("cmdstat_")
    reported: set[str] = set()
    for command, entries in sorted(_group(snap.slowlog).items()):
        worst = max(entries, key=lambda e: e.usec)
        finding = _slow_finding(snap, command, entries, worst)
        if finding is not None:
            out.append(finding)
            reported.add(command.lower())
    for name, fields in sorted(stats.items()):
        base = name.split("|")[0]
        if base in reported:
            continue
        calls = int(to_number(fields.get("calls")) or 0)
        per_call = to_number(fields.get("usec_per_call")) or 0.0
        upper = base.upper()
        risky = upper == "KEYS" or upper in WHOLE_COLLECTION or upper in SCRIPTS
        slow = per_call >= COMMANDSTAT_SLOW_USEC and (risky or calls >= COMMANDSTAT_MIN_CALLS)
        if not calls or not (upper == "KEYS" or slow):
            continue
        ev, line = evidence(snap, f"cmdstat_{name}")
        out.append(
            Finding(
                Severity.WARNING,
                _rule(upper),
                _("%(cmd)s: calls %(calls)s, %(avg)s per call on average.")
                % {"cmd": upper, "calls": count(calls), "avg": ms(per_call)},
                line,
                ev,
                why=_("Redis runs one command at a time: every other client waits while it runs."),
                fix=_advice(upper),
                refs=(upper,),
                data={"calls": calls, "usec_per_call": per_call},
            )
        )
    return out


def _slow_finding(
    snap: Snapshot, command: str, entries: list[SlowEntry], worst: SlowEntry
) -> Finding | None:
    figures = {
        "count": len(entries),
        "max_usec": worst.usec,
        "total_usec": sum(e.usec for e in entries),
    }
    rule = _rule(command)
    if command == "KEYS":
        severity = Severity.ERROR
        why = _(
            "KEYS walks the whole keyspace while every other client waits; it grows with the number of keys."
        )
    elif command in WHOLE_COLLECTION:
        severity = Severity.WARNING
        why = _(
            "It returns the whole collection at once: the larger the key, the longer everyone waits."
        )
    elif command in SCRIPTS:
        severity = Severity.WARNING
        why = _(
            "A Lua script or function runs atomically: nothing else is served until it returns."
        )
    elif worst.usec >= SLOW_OTHER_USEC:
        severity = Severity.WARNING if worst.usec >= 10 * SLOW_OTHER_USEC else Severity.INFO
        why = _("Redis runs one command at a time: every other client waits while it runs.")
    else:
        return None
    key_note = ""
    if len(worst.args) > 1 and snap.keys is not None:
        known = next((k for k in snap.keys.keys if k.key == worst.args[1]), None)
        if known is not None and known.length:
            key_note = " " + _("(%(key)s has %(n)s elements)") % {
                "key": known.key,
                "n": count(known.length),
            }
    return Finding(
        severity,
        rule,
        _("%(cmd)s: slow-log entries %(n)s, the slowest %(time)s: %(args)s")
        % {"cmd": command, "n": len(entries), "time": ms(worst.usec), "args": _shown(worst.args)}
        + key_note,
        worst.line,
        f"{_shown(worst.args)} — {ms(worst.usec)}" + (f" — {worst.client}" if worst.client else ""),
        why=why,
        fix=_advice(command),
        refs=(command,),
        data=figures | {"clients": sorted({e.client for e in entries if e.client})},
    )


def _rule(command: str) -> str:
    if command == "KEYS" or command in WHOLE_COLLECTION:
        return f"redis.slow-{command.lower()}"
    return "redis.slow-script" if command in SCRIPTS else "redis.slow-command"


def _advice(command: str) -> str:
    if command == "KEYS":
        return _(
            "Use SCAN with MATCH and COUNT instead; forbid KEYS for applications with an ACL rule (-keys) or rename-command."
        )
    if command in WHOLE_COLLECTION:
        return _(
            "Read big collections in steps with %(alt)s, fetch only the fields needed (HMGET), or split the key into smaller ones."
        ) % {"alt": WHOLE_COLLECTION[command]}
    if command in SCRIPTS:
        return _(
            "Keep scripts short and bounded: move loops over many keys to the client, and set busy-reply-threshold (lua-time-limit) so a runaway script can be stopped with SCRIPT KILL."
        )
    if command in ("DEL", "FLUSHALL", "FLUSHDB"):
        return _(
            "Use UNLINK, or FLUSHALL/FLUSHDB ASYNC, so big values are freed in the background."
        )
    return _("Look at the arguments in the slow log: large values or ranges make commands slow.")


def latency_events(snap: Snapshot) -> list[Finding]:
    out: list[Finding] = []
    for event in snap.latency:
        # Slow commands are reported from the slow log itself, with their arguments.
        if event.max_ms < LATENCY_EVENT_MS or (event.event == "command" and snap.slowlog):
            continue
        out.append(
            Finding(
                Severity.WARNING,
                "redis.latency-event",
                _("Latency event %(event)s: %(max)s ms at worst, %(latest)s ms the latest time.")
                % {"event": event.event, "max": event.max_ms, "latest": event.latest_ms},
                event.line or snap.doctor_lines.get("latency"),
                f"{event.event} latest={event.latest_ms}ms max={event.max_ms}ms",
                why=str(
                    _LATENCY_WHY.get(
                        event.event.split("-")[0], _("The server was busy this long in one go.")
                    )
                ),
                fix=_(
                    "LATENCY DOCTOR and LATENCY HISTORY %(event)s show when and how often it happens."
                )
                % {"event": event.event},
                refs=(event.event, "LATENCY DOCTOR"),
                data={"event": event.event, "max_ms": event.max_ms, "doctor": snap.latency_doctor},
            )
        )
    return out


_LATENCY_WHY = {
    "command": gettext_lazy("Slow commands: the slow log names them."),
    "fast": gettext_lazy(
        "Even O(1) commands were delayed: the host starves Redis of CPU, or it swaps."
    ),
    "fork": gettext_lazy("Forking for a save or a replica blocked the server."),
    "aof": gettext_lazy("Writing or syncing the append-only file waited for the disk."),
    "expire": gettext_lazy(
        "Expiring keys took long in one cycle: many keys expire at once, or big keys expire."
    ),
    "eviction": gettext_lazy("Evicting keys took long: big keys are being evicted."),
}


def memory_doctor(snap: Snapshot) -> list[Finding]:
    text = snap.memory_doctor
    if "detected a few issues" not in text:
        return []
    issues = [line.strip(" *") for line in text.splitlines() if line.strip().startswith("*")]
    return [
        Finding(
            Severity.WARNING,
            "redis.memory-doctor",
            _("MEMORY DOCTOR reports: %(issues)s")
            % {"issues": "; ".join(i.split(":")[0] for i in issues) or text[:200]},
            snap.doctor_lines.get("memory"),
            "\n".join(issues) or text[:500],
            fix=_("Follow the advice of each point; MEMORY STATS gives the figures behind them."),
            refs=("MEMORY DOCTOR",),
            data={"doctor": text},
        )
    ]


def big_keys(snap: Snapshot) -> list[Finding]:
    sample = snap.keys
    if sample is None:
        return []
    big = [
        k
        for k in sample.keys
        if (k.bytes or 0) >= BIG_KEY_BYTES or (k.length or 0) >= BIG_KEY_ELEMENTS
    ]
    if not big:
        return []
    big.sort(key=lambda k: (k.bytes or 0, k.length or 0), reverse=True)
    top = big[0]

    def describe(k: Any) -> str:
        parts = [k.type or "?"]
        if k.length is not None:
            parts.append(_("elements: %(n)s") % {"n": count(k.length)})
        if k.bytes is not None:
            parts.append(size(k.bytes))
        return f"{k.key} ({', '.join(parts)})"

    coverage = (
        _("the whole keyspace")
        if sample.complete
        else _("a sample of %(n)s keys out of %(total)s")
        % {"n": count(sample.sampled), "total": count(sample.dbsize)}
    )
    return [
        Finding(
            Severity.WARNING,
            "redis.big-keys",
            _("Big keys in %(coverage)s: %(n)s; the biggest: %(key)s")
            % {"n": len(big), "coverage": coverage, "key": describe(top)},
            top.line,
            "; ".join(describe(k) for k in big[:10]),
            why=_(
                "Reading, deleting or expiring a big key blocks the server, and it cannot be spread over cluster nodes."
            ),
            fix=_(
                "Split it into smaller keys (by id range or hash bucket), read it with HSCAN/SSCAN/ZSCAN, delete it with UNLINK."
            ),
            refs=("big keys", "UNLINK"),
            data={
                "keys": [vars(k) for k in big[:50]],
                "method": sample.method,
                "sampled": sample.sampled,
                "complete": sample.complete,
            },
        )
    ]


RULES = (replication, clients, slow_commands, latency_events, memory_doctor, big_keys)
