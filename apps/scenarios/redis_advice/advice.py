"""From a Snapshot to the analysis: every rule, what was not given or not collected, and
the figures a page shows beside the findings."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import Analysis
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.redis_advice import rules_load, rules_memory
from apps.scenarios.redis_advice.snapshot import Snapshot


def analysis(snap: Snapshot) -> Analysis:
    findings: list[Finding] = []
    for rule in (*rules_memory.RULES, *rules_load.RULES):
        findings += rule(snap)
    findings += _coverage(snap)
    result = Analysis(findings, facts=facts(snap))
    grounding: list[str] = []
    for finding in result.findings:
        for ref in finding.refs:
            if ref not in grounding:
                grounding.append(ref)
    result.grounding = grounding
    return result


def _coverage(snap: Snapshot) -> list[Finding]:
    out: list[Finding] = []
    if snap.source == "live" and snap.errors:
        refused = "; ".join(f"{cmd} ({why})" for cmd, why in sorted(snap.errors.items()))
        out.append(
            Finding(
                Severity.INFO,
                "redis.not-collected",
                _(
                    "The instance refused some read-only commands; the rules that need them did not run: %(list)s"
                )
                % {"list": refused},
                fix=_(
                    "Allow these commands to the user the portal connects as (ACL: +info +slowlog|get +latency|latest +latency|doctor +memory|stats +memory|doctor +memory|usage +config|get +scan +type)."
                ),
                data={"errors": dict(snap.errors)},
            )
        )
    if snap.source == "pasted":
        missing = []
        if not snap.info:
            missing.append("INFO ALL")
        elif not any(k.startswith("cmdstat_") for k in snap.info):
            missing.append("INFO ALL (commandstats, errorstats)")
        if not snap.slowlog_seen:
            missing.append("SLOWLOG GET 128")
        if not snap.latency_seen:
            missing.append("LATENCY LATEST")
        if not snap.config:
            missing.append("CONFIG GET maxmemory*, CONFIG GET save")
        if missing:
            out.append(
                Finding(
                    Severity.INFO,
                    "redis.not-given",
                    _("Not in the input, so their rules did not run: %(list)s.")
                    % {"list": ", ".join(missing)},
                    fix=_(
                        "Paste their output too, or let the portal collect it from a configured Redis target."
                    ),
                    data={"missing": missing},
                )
            )
    if snap.ignored:
        out.append(
            Finding(
                Severity.INFO,
                "redis.lines-not-read",
                _(
                    "Lines that are not redis-cli output were not read: %(count)d (first: line %(line)d)."
                )
                % {"count": len(snap.ignored), "line": snap.ignored[0]},
                line=snap.ignored[0],
                data={"lines": snap.ignored[:200]},
            )
        )
    return out


def facts(snap: Snapshot) -> dict[str, Any]:
    info = snap.info
    hits, misses = snap.integer("keyspace_hits"), snap.integer("keyspace_misses")
    slow: dict[str, dict[str, int]] = defaultdict(
        lambda: {"count": 0, "max_usec": 0, "total_usec": 0}
    )
    for entry in snap.slowlog:
        row = slow[entry.command]
        row["count"] += 1
        row["max_usec"] = max(row["max_usec"], entry.usec)
        row["total_usec"] += entry.usec
    sample = snap.keys
    return {
        "source": snap.source,
        "target": snap.target,
        "collected_at": snap.collected_at,
        "redis_version": info.get("redis_version"),
        "role": info.get("role"),
        "uptime_seconds": snap.integer("uptime_in_seconds"),
        "memory": {
            "used": snap.integer("used_memory"),
            "rss": snap.integer("used_memory_rss"),
            "peak": snap.integer("used_memory_peak"),
            "maxmemory": snap.integer("maxmemory")
            if "maxmemory" in info
            else _int(snap.config.get("maxmemory")),
            "policy": info.get("maxmemory_policy") or snap.config.get("maxmemory-policy"),
            "fragmentation_ratio": snap.num("mem_fragmentation_ratio"),
            "total_system_memory": snap.integer("total_system_memory"),
        },
        "hit_ratio": round(hits / (hits + misses), 4)
        if hits is not None and misses is not None and hits + misses
        else None,
        "ops_per_sec": snap.integer("instantaneous_ops_per_sec"),
        "clients": {
            "connected": snap.integer("connected_clients"),
            "blocked": snap.integer("blocked_clients"),
            "maxclients": snap.integer("maxclients"),
        },
        "keyspace": {
            db: {k: _int(v) for k, v in fields.items()} for db, fields in snap.keyspace().items()
        },
        "slowlog": dict(sorted(slow.items(), key=lambda kv: -kv[1]["max_usec"])),
        "latency": [
            {"event": e.event, "latest_ms": e.latest_ms, "max_ms": e.max_ms} for e in snap.latency
        ],
        "keys_sample": None
        if sample is None
        else {
            "method": sample.method,
            "sampled": sample.sampled,
            "dbsize": sample.dbsize,
            "complete": sample.complete,
            "seconds": sample.seconds,
            "limit_keys": sample.limit_keys,
            "limit_seconds": sample.limit_seconds,
            "biggest": [vars(k) for k in sample.keys[:10]],
        },
        "latency_doctor": snap.latency_doctor,
        "memory_doctor": snap.memory_doctor,
        "config": dict(snap.config),
        "errors": dict(snap.errors),
        "lines_not_read": snap.ignored[:200],
    }


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
