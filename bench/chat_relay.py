"""How much the portal adds on top of the model server, measured through real websockets.

Starts the synthetic token source (bench/token_source.py) and the portal (uvicorn, one
worker, real PostgreSQL and Redis), then for each concurrency level:
  * direct: N concurrent streaming requests straight to the source -> TTFT;
  * portal: N websocket clients, one conversation each, send a message (knowledge off, so
    retrieval is excluded) -> TTFT to the first token frame, tokens/s, order and completeness.
Tokens/s in total counts the tokens relayed while all N users are under way (they start up
to one answer-length apart), not the ramp-up.
Extra TTFT = portal TTFT - direct TTFT (p50 and p95, same arrival pattern). CPU is the portal
process's user+system time over the portal phase, per 1,000 tokens relayed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opsdesk_bench \
    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/chat_relay.py --streams 1,10,100
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import functools
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from token_source import expected_text, token  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{what} did not answer at {url}")


@dataclass
class Result:
    ttft: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    tokens: int = 0
    ok: int = 0
    answers: int = 0
    broken: list[str] = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0
    steady: tuple[float, float] = (0.0, 0.0)
    # (time, tokens completed) per delta frame: the relay rate once every stream is running.
    arrivals: list[tuple[float, int]] = field(default_factory=list)


async def direct_stream(base: str, tokens: int, client: httpx.AsyncClient) -> float:
    body = {"model": "synthetic", "stream": True, "max_tokens": tokens, "messages": []}
    t0 = time.perf_counter()
    async with client.stream("POST", f"{base}/v1/chat/completions", json=body) as response:
        first = None
        async for line in response.aiter_lines():
            if first is None and '"content"' in line:
                first = time.perf_counter() - t0
    return first if first is not None else float("nan")


async def run_direct(
    base: str, streams: int, tokens: int, spread: float, duration: float
) -> list[float]:
    """The same arrival pattern as the portal phase, straight to the source."""
    limits = httpx.Limits(max_connections=streams + 10)
    ttfts: list[float] = []
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await direct_stream(base, 2, client)  # warm-up: the connection pool
        end = time.perf_counter() + duration

        async def loop(delay: float) -> None:
            await asyncio.sleep(delay)
            while time.perf_counter() < end:
                ttfts.append(await direct_stream(base, tokens, client))

        await asyncio.gather(*(loop(random.uniform(0, spread)) for _ in range(streams)))
    return ttfts


async def portal_stream(
    url: str, headers: dict[str, str], tokens: int, delay: float, end: float, result: Result
) -> None:
    """One user: a socket on its conversation, asking again as soon as an answer is done."""
    from websockets.asyncio.client import connect

    async with connect(url, additional_headers=headers, max_size=2**22) as ws:
        await asyncio.sleep(delay)
        while time.perf_counter() < end:
            if not await one_answer(ws, tokens, result):
                return


@functools.cache
def token_ends(tokens: int) -> list[int]:
    """Where each token of an expected answer ends in its text."""
    return list(itertools.accumulate(len(token(i)) for i in range(tokens)))


async def one_answer(ws: Any, tokens: int, result: Result) -> bool:
    await ws.send(json.dumps({"type": "send", "text": "bench", "knowledge": False}))
    t0 = time.perf_counter()
    text, seq, first, last, answer = "", 0, None, None, None
    bounds, done = token_ends(tokens), 0
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 120))
        kind = frame["type"]
        if kind == "message" and frame["role"] == "assistant":
            answer = frame["message_id"]
        elif kind == "delta" and frame["message_id"] == answer:
            now = time.perf_counter()
            if first is None:
                first = now - t0
            last = now
            if frame["seq"] != seq + 1:
                result.broken.append(f"frame {frame['seq']} after {seq}")
            seq = frame["seq"]
            text += frame["text"]
            complete = bisect.bisect_right(bounds, len(text))
            result.arrivals.append((now, complete - done))
            done = complete
        elif kind == "done" and frame["message_id"] == answer:
            if frame["seq"] != seq:
                result.broken.append(f"done says frame {frame['seq']}, last delta was {seq}")
            break
        elif kind == "error":
            result.broken.append(frame["message"])
            return False
    result.answers += 1
    want = expected_text(tokens)
    if text != want:
        at = next(
            (i for i, (a, b) in enumerate(zip(text, want, strict=False)) if a != b), len(text)
        )
        result.broken.append(f"text differs at {at}: {len(text)} chars, expected {len(want)}")
        return True
    result.ok += 1
    result.tokens += tokens
    if first is not None:
        result.ttft.append(first)
    if first is not None and last is not None and last - t0 > first:
        result.rates.append((tokens - 1) / (last - t0 - first))
    return True


async def run_portal(
    port: int, pid: int, cookie: str, conversations: list[int], tokens: int, spread: float,
    duration: float,
) -> Result:  # fmt: skip
    result = Result()
    headers = {"Origin": f"http://127.0.0.1:{port}", "Cookie": f"sessionid={cookie}"}
    delays = [random.uniform(0, spread) for _ in conversations]
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    end = t0 + duration
    await asyncio.gather(
        *(
            portal_stream(f"ws://127.0.0.1:{port}/ws/chat/{c}/", headers, tokens, d, end, result)
            for c, d in zip(conversations, delays, strict=True)
        )
    )
    result.wall = time.perf_counter() - t0
    result.cpu = cpu_seconds(pid) - cpu0
    result.steady = (t0 + spread, end)
    return result


def steady_rate(result: Result) -> float:
    """Tokens/s relayed in total while every stream runs: from the moment the last user has
    started (streams start up to one answer-length apart) to the end of the run. Falls back to
    the whole run, ramp included, when the run is shorter than that."""
    start, end = result.steady
    if end - start < 1:
        return result.tokens / result.wall if result.wall else 0.0
    return sum(n for at, n in result.arrivals if start <= at < end) / (end - start)


def prepare(env: dict[str, str], count: int) -> tuple[str, list[int]]:
    """A bench user with a signed-in session and one conversation per stream."""
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    from apps.chat.models import Conversation

    user, _ = User.objects.get_or_create(username="bench-relay")
    Conversation.objects.filter(user=user).delete()
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    convs = [Conversation.objects.create(user=user, knowledge=False).pk for _ in range(count)]
    assert session.session_key
    return session.session_key, convs


def main() -> None:
    parser = argparse.ArgumentParser(description="portal relay overhead over a token source")
    parser.add_argument("--streams", default="1,10,100")
    parser.add_argument("--rate", type=float, default=60.0, help="source tokens/s per stream")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per answer")
    parser.add_argument("--first-token", type=float, default=0.02)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per level")
    parser.add_argument("--json", default="", help="also write the results here")
    args = parser.parse_args()
    levels = [int(x) for x in args.streams.split(",")]

    env = {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsdesk_bench"
        ),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "CACHE_PREFIX": "opsdesk-bench",
        "OPSDESK_VAR": str(ROOT / "var" / "bench"),
        "LLM_USER_MAX_STREAMS": "100000",
        "LLM_USER_REQUESTS_PER_MINUTE": "100000",
        "LOG_LEVEL": "WARNING",
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
    }
    src_port, portal_port = free_port(), free_port()
    source_url = f"http://127.0.0.1:{src_port}"
    backend = {"url": f"{source_url}/v1", "model": "synthetic"}
    env["LLM_BACKENDS"] = json.dumps(
        [
            {"name": "bench-fast", "tier": "fast", **backend},
            {"name": "bench-heavy", "tier": "heavy", **backend},
        ]
    )
    _ensure_database(env["DATABASE_URL"])
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    source = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench/token_source.py"),
            "--port",
            str(src_port),
            "--rate",
            str(args.rate),
            "--first-token",
            str(args.first_token),
            "--max-tokens",
            str(args.tokens),
        ]  # fmt: skip
    )
    # BENCH_CPROFILE=FILE: a deterministic profile of the portal's event loop, for tuning;
    # BENCH_UVICORN="--flag value ...": more uvicorn options, to compare server settings.
    profile = (
        ["-m", "cProfile", "-o", os.environ["BENCH_CPROFILE"]]
        if os.environ.get("BENCH_CPROFILE")
        else []
    )
    portal = subprocess.Popen(
        [sys.executable, *profile, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
         "--port", str(portal_port), "--ws", "websockets-sansio", "--log-level", "warning",
         "--no-access-log", *os.environ.get("BENCH_UVICORN", "").split()],
        cwd=ROOT, env=env,
    )  # fmt: skip
    rows = []
    try:
        wait_http(f"{source_url}/health", source, "token source")
        wait_http(f"http://127.0.0.1:{portal_port}/healthz", portal, "portal")
        cookie, convs = prepare(env, max(levels))
        # Warm-up: connections, template and SDK caches.
        asyncio.run(run_portal(portal_port, portal.pid, cookie, convs[:2], args.tokens, 0, 1))
        # Users start one answer-length apart at most, then ask again as soon as an answer
        # ends: N streams run at once in the steady state, and new questions keep arriving.
        spread = args.tokens / args.rate
        for n in levels:
            direct = asyncio.run(run_direct(source_url, n, args.tokens, spread, args.duration))
            spy = None
            if os.environ.get("BENCH_PYSPY"):  # a sampling profile of the portal, for tuning
                out = ROOT / f"var/bench/profile-{n}.txt"
                spy = subprocess.Popen(
                    [os.environ["BENCH_PYSPY"], "record", "-p", str(portal.pid), "-o", str(out),
                     "--format", "raw", "-r", "200", "--threads", "--nonblocking"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            result = asyncio.run(
                run_portal(
                    portal_port, portal.pid, cookie, convs[:n], args.tokens, spread, args.duration
                )
            )
            if spy is not None:
                spy.send_signal(2)
                spy.wait(30)
            row: dict[str, Any] = {
                "streams": n,
                "direct_ttft_p50_ms": pct(direct, 50) * 1000,
                "direct_ttft_p95_ms": pct(direct, 95) * 1000,
                "portal_ttft_p50_ms": pct(result.ttft, 50) * 1000,
                "portal_ttft_p95_ms": pct(result.ttft, 95) * 1000,
                "tokens_per_s_per_stream_p50": statistics.median(result.rates)
                if result.rates
                else 0,
                "tokens_per_s_total": steady_rate(result),
                "cpu_s_per_1000_tokens": result.cpu / result.tokens * 1000 if result.tokens else 0,
                "complete_in_order": f"{result.ok}/{result.answers}",
                "problems": result.broken[:5],
            }
            row["extra_ttft_p50_ms"] = row["portal_ttft_p50_ms"] - row["direct_ttft_p50_ms"]
            row["extra_ttft_p95_ms"] = row["portal_ttft_p95_ms"] - row["direct_ttft_p95_ms"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        portal.send_signal(2)  # SIGINT: a graceful stop (and a written profile, if any)
        source.terminate()
        portal.wait(20)
        source.wait(20)
    print()
    print("| streams | extra TTFT p50 / p95 (ms) | tokens/s per stream (p50) | tokens/s total, all streams running "
          "| portal CPU s per 1,000 tokens | complete, in order |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['streams']} | {r['extra_ttft_p50_ms']:.1f} / {r['extra_ttft_p95_ms']:.1f} "
            f"| {r['tokens_per_s_per_stream_p50']:.1f} | {r['tokens_per_s_total']:.0f} "
            f"| {r['cpu_s_per_1000_tokens']:.3f} | {r['complete_in_order']} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


def _ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')  # noqa: S608  (name from our own URL)


if __name__ == "__main__":
    main()
