"""Database connections under many streams, and memory over a long run, on the production set.

Starts bench/token_source.py and the portal (uvicorn, one worker, PostgreSQL and Redis, the
default DATABASE_MAX_CONNECTIONS), then:
  * api: N concurrent streaming /v1/chat/completions calls, all started at once, repeated for
    --duration seconds: errors, answers whole and in order;
  * chat: N websocket users, one conversation each, asking again as soon as an answer ends
    (bench/chat_relay.py's client), for --duration seconds.
While each phase runs, PostgreSQL's pg_stat_activity for the bench database is sampled every
0.2 s (peak connections of the portal process) and the portal's own /metrics gauges are read
at the end. `--soak` runs only the chat phase and reports the portal's RSS at start and end.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opsdesk_bench \\
    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/stream_connections.py \\
        --streams 300 --duration 30
    ... bench/stream_connections.py --soak --streams 200 --duration 600
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from chat_relay import (  # noqa: E402
    _ensure_database,
    free_port,
    prepare,
    run_portal,
    wait_http,
)
from token_source import expected_text  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pg_connections(url: str) -> int:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ).fetchone()
    return int(row[0]) if row else 0


async def sample_peak(url: str, stop: asyncio.Event, peak: list[int]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], await asyncio.to_thread(pg_connections, url))
        await asyncio.sleep(0.2)


def gauges(base: str) -> dict[str, float]:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return {
        ln.split()[0]: float(ln.split()[1])
        for ln in text.splitlines()
        if ln.startswith("opsdesk_db_connections_")
    }


async def api_phase(
    base: str, token: str, streams: int, tokens: int, duration: float
) -> dict[str, Any]:
    want = expected_text(tokens)
    counts = {"answers": 0, "intact": 0, "errors": 0}
    problems: list[str] = []
    body = {
        "model": "fast",
        "stream": True,
        "max_tokens": tokens,
        "messages": [{"role": "user", "content": "bench"}],
    }
    headers = {"Authorization": f"Bearer {token}"}
    end = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams)

    async def user(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < end:
            text: list[str] = []
            try:
                async with http.stream(
                    "POST", f"{base}/v1/chat/completions", json=body, headers=headers
                ) as response:
                    if response.status_code != 200:
                        counts["errors"] += 1
                        problems.append(
                            f"HTTP {response.status_code}: {await response.aread()!r}"[:200]
                        )
                        continue
                    async for line in response.aiter_lines():
                        if line.startswith("data: {"):
                            chunk = json.loads(line[6:])
                            if "error" in chunk:
                                problems.append(str(chunk["error"])[:200])
                            for choice in chunk.get("choices", []):
                                text.append(choice["delta"].get("content") or "")
            except httpx.HTTPError as exc:
                counts["errors"] += 1
                problems.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            counts["answers"] += 1
            counts["intact"] += "".join(text) == want

    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        await asyncio.gather(*(user(http) for _ in range(streams)))
    return {**counts, "problems": problems[:5]}


def main() -> None:
    parser = argparse.ArgumentParser(description="DB connections under many streams; soak")
    parser.add_argument("--streams", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="source tokens/s per stream")
    parser.add_argument("--tokens", type=int, default=100, help="tokens per answer")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--soak", action="store_true", help="only the chat phase; RSS figures")
    args = parser.parse_args()
    database = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsdesk_bench")
    env = {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "CACHE_PREFIX": "opsdesk-bench",
        "OPSDESK_VAR": str(ROOT / "var" / "bench"),
        "LLM_USER_MAX_STREAMS": "100000",
        "LLM_USER_REQUESTS_PER_MINUTE": "100000",
        "METRICS_ALLOWED_NETWORKS": "127.0.0.0/8",
        "LOG_LEVEL": "WARNING",
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
    }
    src_port, port = free_port(), free_port()
    backend = {"url": f"http://127.0.0.1:{src_port}/v1", "model": "synthetic"}
    env["LLM_BACKENDS"] = json.dumps(
        [{"name": "bench-fast", "tier": "fast", **backend},
         {"name": "bench-heavy", "tier": "heavy", **backend}]
    )  # fmt: skip
    _ensure_database(database)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    source = subprocess.Popen(
        [sys.executable, str(ROOT / "bench/token_source.py"), "--port", str(src_port),
         "--rate", str(args.rate), "--first-token", "0.05", "--max-tokens", str(args.tokens)]
    )  # fmt: skip
    portal = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--ws", "websockets-sansio", "--log-level", "warning",
         "--no-access-log"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    report: dict[str, Any] = {"streams": args.streams, "duration_s": args.duration}
    try:
        wait_http(f"http://127.0.0.1:{src_port}/health", source, "token source")
        wait_http(f"{base}/healthz", portal, "portal")
        cookie, convs = prepare(env, args.streams)
        from apps.accounts.tokens import create_token
        from apps.chat.models import Conversation

        user = Conversation.objects.get(pk=convs[0]).user
        token = create_token(user, f"bench-{time.time():.0f}")[1]
        from django.db import connections

        connections.close_all()  # the bench's own connection is not the portal's
        report["max_connections"] = int(
            subprocess.run(
                ["psql", database, "-tAc", "SHOW max_connections"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()  # fmt: skip
        )
        # Warm-up: one answer on each path.
        asyncio.run(run_portal(port, portal.pid, cookie, convs[:2], args.tokens, 0, 1))
        report["rss_start_mib"] = round(rss_mib(portal.pid), 1)

        async def phase(work: Any) -> tuple[Any, int]:
            stop, peak = asyncio.Event(), [0]
            sampler = asyncio.create_task(sample_peak(database, stop, peak))
            try:
                result = await work
            finally:
                stop.set()
                await sampler
            return result, peak[0]

        if not args.soak:
            api, peak = asyncio.run(
                phase(api_phase(base, token, args.streams, args.tokens, args.duration))
            )
            report["api"] = {**api, "peak_pg_connections": peak}
            print(json.dumps({"api": report["api"]}), flush=True)
        spread = args.tokens / args.rate
        chat, peak = asyncio.run(
            phase(run_portal(port, portal.pid, cookie, convs, args.tokens, spread, args.duration))
        )
        report["chat"] = {
            "answers": chat.answers,
            "intact": chat.ok,
            "errors": len(chat.broken),
            "problems": chat.broken[:5],
            "peak_pg_connections": peak,
        }
        report["rss_end_mib"] = round(rss_mib(portal.pid), 1)
        report["portal_gauges"] = gauges(base)
    finally:
        portal.send_signal(2)
        source.terminate()
        portal.wait(30)
        source.wait(30)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
