"""Ceph health and Redis performance: time from submit to findings, without the model.

    .venv/bin/python bench/ceph_redis_findings.py [--runs 50] [--live-runs 15]

Ceph: `analyze()` of `ceph health detail` (a host down; and a large one, 12 checks with 50
detail lines each, the most mon_health_max_detail prints by default), `ceph -s` as text and as
`-f json`. Redis: starts a real redis-server on a free port with 100k keys, a 200k-field hash
read with HGETALL, KEYS, a slow EVAL and writes refused at maxmemory; times `analyze()` of the
pasted redis-cli output (INFO ALL, SLOWLOG GET 128, LATENCY LATEST and DOCTOR, MEMORY STATS and
DOCTOR, CONFIG GET) and the live page's path: `collect.snapshot()` with the default bounds,
then `analyze()` of the snapshot. Prints p50 / p95 / max per input.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CEPH = ROOT / "apps/scenarios/tests/data/ceph"


def _summary(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    ms = [t * 1000 for t in (statistics.median(times), p95, times[-1])]
    return "p50 {:.1f} / p95 {:.1f} / max {:.1f} ms".format(*ms)


def _time(runs: int, work: Callable[[], object]) -> list[float]:
    work()  # warm: imports, the translation catalogue
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        out.append(time.perf_counter() - started)
    return out


def large_health_detail() -> str:
    codes = [
        ("OSD_DOWN", "12 osds down", "osd.{i} (root=default,host=osd-{h}) is down"),
        ("OSD_HOST_DOWN", "4 hosts (12 osds) down", "host osd-{h} (root=default) (3 osds) is down"),
        (
            "PG_AVAILABILITY",
            "Reduced data availability: 180 pgs inactive",
            "pg 3.{i:x} is stuck inactive for 8m, current state undersized+degraded+peered, last acting [{i}]",
        ),
        (
            "PG_DEGRADED",
            "Degraded data redundancy: 81234/243702 objects degraded (33.333%), 900 pgs degraded, 1020 pgs undersized",
            "pg 2.{i:x} is active+undersized+degraded, acting [{i},{h}]",
        ),
        (
            "SLOW_OPS",
            "230 slow ops, oldest one blocked for 64 sec, daemons [osd.3,osd.7] have slow ops.",
            "osd.{i} has slow ops",
        ),
        ("OBJECT_MISPLACED", "3120/243702 objects misplaced (1.280%)", "pg 4.{i:x} is misplaced"),
        (
            "PG_NOT_DEEP_SCRUBBED",
            "310 pgs not deep-scrubbed in time",
            "pg 5.{i:x} not deep-scrubbed since 2026-11-01T03:12:44.123456+0000",
        ),
        (
            "PG_NOT_SCRUBBED",
            "120 pgs not scrubbed in time",
            "pg 5.{i:x} not scrubbed since 2026-11-20T03:12:44.123456+0000",
        ),
        (
            "RECENT_CRASH",
            "9 daemons have recently crashed",
            "osd.{i} crashed on host osd-{h} at 2026-12-03T22:1{h}:00.000000Z",
        ),
        (
            "MON_CLOCK_SKEW",
            "clock skew detected on mon.c",
            "mon.c clock skew 0.08{i}s > max 0.05s (latency 0.004s)",
        ),
        (
            "LARGE_OMAP_OBJECTS",
            "3 large omap objects",
            "3 large objects found in pool 'default.rgw.buckets.index'",
        ),
        (
            "MDS_SLOW_REQUEST",
            "1 MDSs report slow requests",
            "mds.fs-a(mds.0): 7 slow requests are blocked > 30 secs",
        ),
    ]
    lines = ["HEALTH_WARN " + "; ".join(summary for _, summary, _ in codes)]
    for code, summary, detail in codes:
        lines.append(f"[WRN] {code}: {summary}")
        lines += ["    " + detail.format(i=i, h=i % 4) for i in range(50)]
    return "\n".join(lines) + "\n"


def bench_ceph(runs: int) -> None:
    from apps.scenarios.engine import registry

    scenario = registry.get("ceph-health")
    inputs = {
        "health detail, host down": (CEPH / "host_down_detail.txt").read_text(),
        "health detail, 12 checks x 50 lines": large_health_detail(),
        "ceph -s text": (CEPH / "host_down_status.txt").read_text(),
        "ceph -s -f json": (CEPH / "host_down_status.json").read_text(),
    }
    for name, text in inputs.items():
        findings = len(scenario.analyze(text, {}).findings)
        times = _time(runs, functools.partial(scenario.analyze, text, {}))
        print(
            f"ceph   {name:38} {_summary(times)}; {len(text.splitlines())} lines, {findings} findings"
        )


def _cli(port: int, *command: str) -> str:
    out = subprocess.run(
        ["redis-cli", "-p", str(port), "--no-raw", *command],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return f"127.0.0.1:{port}> {' '.join(command)}\n{out}"


def bench_redis(runs: int, live_runs: int) -> None:
    from apps.scenarios.engine import registry
    from apps.scenarios.redis_advice import collect, target
    from apps.scenarios.tests.redis_servers import make_trouble, running

    scenario = registry.get("redis-advice")
    slow = ("--slowlog-log-slower-than", "2000", "--latency-monitor-threshold", "1")
    with running(*slow) as server:
        make_trouble(server)
        port = server.port
        paste = "\n".join(
            _cli(port, *c)
            for c in (
                ("INFO", "ALL"),
                ("SLOWLOG", "GET", "128"),
                ("LATENCY", "LATEST"),
                ("LATENCY", "DOCTOR"),
                ("MEMORY", "STATS"),
                ("MEMORY", "DOCTOR"),
                ("CONFIG", "GET", "maxmemory*"),
            )
        )
        findings = len(scenario.analyze(paste, {}).findings)
        times = _time(runs, lambda: scenario.analyze(paste, {}))
        print(
            f"redis  {'pasted redis-cli output':38} {_summary(times)}; {len(paste.splitlines())} lines, {findings} findings"
        )
        where = target.parse_url(server.url)
        samples: list[tuple[int, bool, float]] = []

        def live() -> None:
            started = time.perf_counter()
            snap = collect.snapshot(where)
            collected = time.perf_counter() - started
            scenario.analyze(snap.to_json(), {})
            assert snap.keys is not None
            samples.append((snap.keys.sampled, snap.keys.complete, collected))

        times = _time(live_runs, live)
        sampled = statistics.median(s[0] for s in samples[1:])
        collect_p50 = statistics.median(s[2] for s in samples[1:])
        print(
            f"redis  {'live: collect (default bounds) + analyze':38} {_summary(times)}; "
            f"collection p50 {collect_p50:.3f} s, keys sized p50 {sampled:.0f} of 100,201, "
            f"whole keyspace {sum(s[1] for s in samples)} of {len(samples)} runs"
        )
        snap_text = collect.snapshot(where).to_json()
        times = _time(runs, lambda: scenario.analyze(snap_text, {}))
        print(f"redis  {'analyze() of a live snapshot':38} {_summary(times)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--live-runs", type=int, default=15)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.utils import translation

    translation.activate("ru")  # the portal's default language
    bench_ceph(args.runs)
    bench_redis(args.runs, args.live_runs)
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
