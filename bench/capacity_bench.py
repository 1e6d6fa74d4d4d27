"""Capacity benchmarks: how fast the planner answers, and the planner against a real server.

    .venv/bin/python bench/capacity_bench.py planner
    .venv/bin/python bench/capacity_bench.py devbox [--url http://127.0.0.1:8001] [--runs 3]

`planner` times one plan, the planner page's work for two tiers and four compared GPUs, and the
whole seed check. `devbox` runs the planner's decode model on the one accelerator this machine
has, its CPU, serving gemma-3-270m on the dev vLLM server: it measures the host's memory copy
bandwidth (numpy), describes the host as a "GPU" with that bandwidth, and compares the planner's
per-user tokens/s with what vLLM delivers to 1 and 4 concurrent streams.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# gemma-3-270m's config.json (google/gemma-3-270m): 18 layers, hidden 640, 4 heads, 1 KV head,
# head_dim 256, vocab 262144, tied embeddings; 268,098,176 parameters.
GEMMA = {
    "name": "gemma-3-270m",
    "num_hidden_layers": 18,
    "hidden_size": 640,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 256,
    "params_total": 268_098_176,
    "params_active": 268_098_176,
    "vocab_size": 262_144,
    "tie_word_embeddings": True,
}


def _timeit(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def planner() -> None:
    from apps.capacity import catalog, seed
    from apps.capacity.planner import curve, plan
    from apps.capacity.replica import Setup, Workload

    mixtral, l40s = catalog.model("mixtral-8x7b"), catalog.gpu("l40s")
    one = _timeit(lambda: plan(mixtral, l40s, Workload(), Setup(weights="awq", tp=2)), 20)
    batches = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256]

    def page() -> None:
        for model, tp in (("mistral-7b", 1), ("mixtral-8x7b", 2)):
            for gpu in ("l40s", "h100-sxm", "h200", "a100-80g-sxm", "l4"):
                setup = Setup(weights="awq", tp=tp)
                plan(catalog.model(model), catalog.gpu(gpu), Workload(), setup)
                curve(catalog.model(model), catalog.gpu(gpu), Workload(), setup, batches)

    page_s = _timeit(page, 5)
    seed_s = _timeit(seed.verdicts, 3)
    print(
        json.dumps(
            {
                "plan_ms": one * 1000,
                "planner_page_ms": page_s * 1000,
                "seed_check_ms": seed_s * 1000,
            }
        )
    )


def host_bandwidth(mib: int = 256, rounds: int = 5) -> float:
    """Memory copy bandwidth in GB/s: a copy reads and writes each byte once."""
    import numpy as np

    src = np.ones(mib * 1024 * 1024 // 8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - started)
    return 2 * src.nbytes / best / 1e9


def stream_rates(url: str, model: str, concurrency: int, tokens: int) -> list[float]:
    """Per-stream decode tokens/s after the first token, for `concurrency` streams at once."""
    import httpx

    rates: list[float] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        body = {
            "model": model,
            "prompt": f"Write a long story about server number {i}.",
            "max_tokens": tokens,
            "ignore_eos": True,
            "stream": True,
        }
        first = last = 0.0
        count = 0
        with httpx.stream("POST", f"{url}/v1/completions", json=body, timeout=300) as r:
            for line in r.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                now = time.perf_counter()
                if not first:
                    first = now
                last = now
                count += 1
        if count > 1:
            with lock:
                rates.append((count - 1) / (last - first))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return rates


def devbox(url: str, runs: int) -> None:
    from apps.capacity import catalog
    from apps.capacity.replica import Replica, Setup, Workload

    bandwidth = statistics.median(host_bandwidth() for _ in range(3))
    cpu = catalog.custom_gpu(
        name="dev CPU host", memory_gb=8, bandwidth_gbs=bandwidth, bf16_tflops=0.2
    )
    replica = Replica(
        catalog.custom_model(GEMMA),
        cpu,
        Workload(users=1, prompt_tokens=16, output_tokens=128),
        Setup(weights="bf16", step_overhead_ms=0, bandwidth_efficiency=1.0, reserve_gib=0),
    )
    out: dict[str, object] = {"host_copy_bandwidth_gbs": round(bandwidth, 1)}
    for concurrency in (1, 4):
        measured = []
        for _ in range(runs):
            measured += stream_rates(url, "gemma-3-270m", concurrency, 128)
        step = replica.step(concurrency)
        out[f"c{concurrency}"] = {
            "measured_per_stream_tok_s": round(statistics.median(measured), 1),
            "bandwidth_bound_tok_s": round(1 / step.seconds, 1),
            "implied_efficiency": round(statistics.median(measured) * step.seconds, 2),
        }
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("planner")
    dev = sub.add_parser("devbox")
    dev.add_argument("--url", default="http://127.0.0.1:8001")
    dev.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    if args.what == "planner":
        planner()
    else:
        devbox(args.url, args.runs)


if __name__ == "__main__":
    main()
