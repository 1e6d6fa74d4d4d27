"""What apps.inference.client adds on top of a model server.

Starts bench/token_source.py (a synthetic OpenAI-compatible source emitting numbered tokens
at a fixed rate), points one backend at it, then measures:

1. extra time to first token: pairs of calls, one straight to the source (a bare streaming
   POST on a kept-alive connection), one through `client.stream()` (routing, its own
   request and connection, SSE parsing, event translation); p50/p95 of the difference;
2. 1, 10 and 100 concurrent `client.stream()` calls: tokens/s per stream and in total, CPU
   seconds of this process per 1,000 tokens, and that every token arrived once, in order.

It never touches the portal's own database: it migrates and uses BENCH_DATABASE_URL (a
scratch database; default a throwaway SQLite file), and REDIS_URL under a key prefix of its
own. E.g., with PostgreSQL as in production:

    createdb -h 127.0.0.1 -U postgres opsdesk_bench
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/opsdesk_bench \\
    REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/inference_gateway.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import aclosing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _ttft_pairs(url: str, pairs: int) -> tuple[list[float], list[float]]:
    import aiohttp

    from apps.inference import client

    messages = [{"role": "user", "content": "ping"}]
    body = {"model": "synthetic", "messages": messages, "stream": True, "max_tokens": 5}
    direct, gateway = [], []
    # The floor: a bare streaming POST on a kept-alive connection, read to the first token.
    async with aiohttp.ClientSession() as bare:
        for _ in range(pairs):
            t0 = time.perf_counter()
            async with bare.post(f"{url}/chat/completions", json=body) as response:
                async for line in response.content:
                    if line.startswith(b"data:") and b'"content"' in line:
                        direct.append(time.perf_counter() - t0)
                        break
            t0 = time.perf_counter()
            events = client.stream(messages, tier="fast", max_tokens=5, purpose="bench")
            async with aclosing(events):  # closing records the call before the next pair
                async for event in events:
                    if event["type"] == "token":
                        gateway.append(time.perf_counter() - t0)
                        break
    return direct, gateway


async def _concurrent(streams: int, tokens: int) -> dict[str, float]:
    from token_source import expected_text

    from apps.inference import client

    async def one() -> tuple[str, float, float]:
        parts: list[str] = []
        first = end = 0.0
        async for event in client.stream(
            [{"role": "user", "content": "go"}], tier="fast", max_tokens=tokens, purpose="bench"
        ):
            if event["type"] == "token":
                if not parts:
                    first = time.perf_counter()
                parts.append(event["text"])
            elif event["type"] == "end":
                end = time.perf_counter()
        return "".join(parts), first, end

    cpu0, t0 = time.process_time(), time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(streams)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    expected = expected_text(tokens)
    intact = sum(1 for text, _, _ in results if text == expected)
    per_stream = [(tokens - 1) / (end - first) for _, first, end in results if end > first]
    total = streams * tokens
    return {
        "streams": streams,
        "intact": intact,
        "per_stream_tps": statistics.median(per_stream),
        "total_tps": total / wall,
        "cpu_s_per_1k": cpu / total * 1000,
    }


async def main(args: argparse.Namespace) -> None:
    import django

    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    os.environ["LLM_BACKENDS"] = json.dumps(
        [{"name": "synthetic", "url": url, "model": "synthetic", "tier": "fast"}]
    )
    scratch = tempfile.mkdtemp(prefix="opsdesk-bench-")
    os.environ["DATABASE_URL"] = os.environ.get(
        "BENCH_DATABASE_URL", f"sqlite:///{scratch}/bench.sqlite3"
    )
    os.environ["OPSDESK_VAR"] = scratch
    os.environ["CACHE_PREFIX"] = f"opsdesk-bench-{os.getpid()}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    source = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench/token_source.py"),
            "--port",
            str(port),
            "--rate",
            str(args.rate),
            "--first-token",
            "0.02",
            "--max-tokens",
            str(args.tokens),
        ]
    )
    try:
        django.setup()
        from asgiref.sync import sync_to_async
        from django.conf import settings
        from django.core.management import call_command

        from apps.inference.backends import sync_from_settings
        from apps.inference.models import Backend

        print(f"database: {settings.DATABASES['default']['ENGINE']}, redis: {settings.REDIS_URL}")
        await sync_to_async(call_command)("migrate", verbosity=0)
        await sync_to_async(sync_from_settings)()
        others = await Backend.objects.exclude(name="synthetic").filter(enabled=True).acount()
        if others:
            raise SystemExit("BENCH_DATABASE_URL has other enabled backends: use a scratch one")
        await asyncio.sleep(1.5)  # the source's start-up

        direct, gateway = await _ttft_pairs(url, args.pairs)
        extra = [g - d for d, g in zip(direct, gateway, strict=True)]
        print(
            f"TTFT direct  p50 {_pct(direct, 0.5) * 1000:.1f} ms  p95 {_pct(direct, 0.95) * 1000:.1f} ms"
        )
        print(
            f"TTFT gateway p50 {_pct(gateway, 0.5) * 1000:.1f} ms  p95 {_pct(gateway, 0.95) * 1000:.1f} ms"
        )
        print(
            f"extra TTFT   p50 {_pct(extra, 0.5) * 1000:.1f} ms  p95 {_pct(extra, 0.95) * 1000:.1f} ms"
        )
        for streams in (1, 10, 100):
            r = await _concurrent(streams, args.tokens)
            print(
                f"{streams:>3} streams: {r['intact']}/{streams} intact and in order, "
                f"{r['per_stream_tps']:.0f} tok/s per stream, {r['total_tps']:.0f} tok/s total, "
                f"{r['cpu_s_per_1k']:.3f} CPU s per 1,000 tokens"
            )
    finally:
        source.terminate()
        source.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0)
    asyncio.run(main(parser.parse_args()))
