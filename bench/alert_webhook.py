"""Alert webhook: a burst of alerts into one ASGI worker, accepted per second and p95 latency.

Starts the portal (uvicorn, one worker) on a scratch PostgreSQL database, creates a webhook
token with `manage.py alerttoken`, and sends N alerts at once from C concurrent connections,
one alert per call by default (the worst case: Alertmanager groups alerts into fewer, larger
calls; --per-call K sends K per call). It reports calls and alerts accepted per second over
the burst, the latency of each call (p50, p95, p99) and the portal process's CPU time per
call (what the figures mean on a busier or quieter machine), then checks that every alert was
stored as received, and how long the work behind them (one alert row per fingerprint and
its triage) took to finish:
  * --mode celery (default; production): REDIS_URL is the Celery broker, the webhook only
    queues; a Celery worker (2 processes) started after the burst does the work;
  * --mode thread (as `make run` when Redis is absent but with PostgreSQL): no broker; the
    portal's own worker thread does the work inside the measured process, during the burst.

    createdb -h 127.0.0.1 -U postgres opsdesk_bench   # once; the bench migrates it
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/opsdesk_bench \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/alert_webhook.py --alerts 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def alerts(n: int, run: str) -> list[dict[str, Any]]:
    """N distinct alerts as Alertmanager sends them (a storm: one rule on many pods)."""
    start = (datetime.now(UTC) - timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    names = ("KubePodCrashLooping", "NodeFilesystemAlmostOutOfSpace", "CephOSDNearFull")
    return [
        {
            "status": "firing",
            "labels": {
                "alertname": names[i % len(names)],
                "severity": "critical" if i % 10 == 0 else "warning",
                "team": ("apps", "platform", "storage")[i % 3],
                "cluster": "prod-m1",
                "namespace": f"ns-{i % 40}",
                "pod": f"svc-{run}-{i}",
            },
            "annotations": {"summary": f"Pod ns-{i % 40}/svc-{run}-{i} is not well"},
            "startsAt": start,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
            "fingerprint": f"{run}{i:010x}",
        }
        for i in range(n)
    ]


def body(batch: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {
            "version": "4",
            "receiver": "opsdesk",
            "status": "firing",
            "groupKey": '{}:{alertname="bench"}',
            "truncatedAlerts": 0,
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": batch,
        }
    ).encode()


async def burst(
    url: str, token: str, calls: list[bytes], concurrency: int
) -> tuple[float, list[float], list[int]]:
    import aiohttp

    latencies: list[float] = []
    statuses: list[int] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for c in calls:
        queue.put_nowait(c)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        # Warm the connections, the portal's database thread and its broker connection
        # outside the measurement: one call per connection carrying no alert.
        async def warm() -> None:
            async with session.post(url, data=body([])) as response:
                assert response.status == 200, await response.text()

        await asyncio.gather(*(warm() for _ in range(concurrency)))

        async def worker() -> None:
            while True:
                try:
                    data = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                async with session.post(url, data=data) as response:
                    await response.read()
                    statuses.append(response.status)
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    return wall, latencies, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--per-call", type=int, default=1)
    parser.add_argument("--mode", choices=("celery", "thread"), default="celery")
    args = parser.parse_args()
    db_url = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsdesk_bench"
    )
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12")
    scratch = Path(tempfile.mkdtemp(prefix="opsdesk-alert-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "CACHE_PREFIX": "opsdesk-alert-bench",
        "CELERY_EAGER": "1" if args.mode == "thread" else "0",
        "OPSDESK_VAR": str(scratch),
        "LLM_BACKENDS": "[]",
        "LLM_POLL_IN_WEB": "false",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    os.environ.update(
        {
            k: env[k]
            for k in (
                "DATABASE_URL",
                "REDIS_URL",
                "CACHE_PREFIX",
                "OPSDESK_VAR",
                "DJANGO_SETTINGS_MODULE",
            )
        }
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    from apps.scenarios.alert_triage.models import Alert, AlertPayload, AlertToken

    Alert.objects.all().delete()
    AlertPayload.objects.all().delete()
    AlertToken.objects.all().delete()
    if args.mode == "celery":  # nothing left over from an earlier run
        subprocess.run(
            [sys.executable, "-m", "celery", "-A", "portal", "purge", "-f"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    token = subprocess.run(
        [*manage, "alerttoken", "bench"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()

    port = free_port()
    log = (scratch / "portal.log").open("w")
    portal = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "portal.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    worker = None
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if portal.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the portal did not start; see {log.name}")
            time.sleep(0.3)
        run = f"{int(time.time()) % 100000:05d}"
        items = alerts(args.alerts, run)
        calls = [body(items[i : i + args.per_call]) for i in range(0, len(items), args.per_call)]
        url = f"http://127.0.0.1:{port}/hooks/alertmanager/"
        load = os.getloadavg()[0]
        cpu_before = cpu_seconds(portal.pid)
        wall, latencies, statuses = asyncio.run(burst(url, token, calls, args.concurrency))
        cpu = cpu_seconds(portal.pid) - cpu_before
        stored = sum(AlertPayload.objects.values_list("alert_count", flat=True))
        ok = sum(1 for s in statuses if s == 200)
        print(
            f"mode {args.mode}, {args.alerts} alerts in {len(calls)} calls of {args.per_call}, concurrency {args.concurrency}, load average {load:.1f} before"
        )
        print(
            f"accepted: {ok}/{len(calls)} calls in {wall:.2f} s = {ok / wall:.0f} calls/s, {ok * args.per_call / wall:.0f} alerts/s"
        )
        print(
            f"latency per call: p50 {pct(latencies, 0.5) * 1000:.1f} ms, p95 {pct(latencies, 0.95) * 1000:.1f} ms, p99 {pct(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
        )
        print(
            f"portal CPU over the burst: {cpu:.2f} s = {cpu * 1000 / max(ok, 1):.2f} ms per call"
            f" (one core could accept {ok * args.per_call / max(cpu, 1e-9):.0f} alerts/s)"
        )
        print(f"stored as received: {stored} of {args.alerts} alerts")
        began = time.perf_counter()
        if args.mode == "celery":
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "-l",
                    "warning",
                    "-c",
                    "2",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        while time.perf_counter() - began < 600:
            done = Alert.objects.filter(fingerprint__startswith=run, triage_state="ready").count()
            if done >= args.alerts:
                break
            time.sleep(0.5)
        after = time.perf_counter() - began
        total = Alert.objects.filter(fingerprint__startswith=run).count()
        print(f"alert rows: {total}, triaged: {done}; work finished {after:.1f} s after the burst")
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        portal.terminate()
        portal.wait(timeout=30)
        log.close()


if __name__ == "__main__":
    main()
