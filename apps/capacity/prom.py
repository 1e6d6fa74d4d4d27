"""Prometheus HTTP API (/api/v1/query, /api/v1/query_range) and the PromQL the dashboard uses.

The same expressions are listed in docs/capacity.md and used by deploy/grafana/; a test keeps
the three in step. `{sel}` is a backend's series selector (PROMETHEUS_BACKEND_SELECTOR plus its
served model name), `{target}` selects its scrape target for `up`, `{w}` is the window.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

TIMEOUT = httpx.Timeout(4.0, connect=2.0)

PROMQL = {
    "up": "max(up{{{target}}})",
    "running": "sum(vllm:num_requests_running{{{sel}}})",
    "waiting": "sum(vllm:num_requests_waiting{{{sel}}})",
    "kv_cache_usage": "max(vllm:kv_cache_usage_perc{{{sel}}})",
    "tokens_per_s": "sum(rate(vllm:generation_tokens_total{{{sel}}}[1m]))",
    "ttft_p50": "histogram_quantile(0.5, sum by (le) "
    "(rate(vllm:time_to_first_token_seconds_bucket{{{sel}}}[{w}])))",
    "ttft_p95": "histogram_quantile(0.95, sum by (le) "
    "(rate(vllm:time_to_first_token_seconds_bucket{{{sel}}}[{w}])))",
    "itl_p50": "histogram_quantile(0.5, sum by (le) "
    "(rate(vllm:inter_token_latency_seconds_bucket{{{sel}}}[{w}])))",
    "itl_p95": "histogram_quantile(0.95, sum by (le) "
    "(rate(vllm:inter_token_latency_seconds_bucket{{{sel}}}[{w}])))",
}
# Mean inter-token latency over the window: what a user sees, on average, between two tokens.
ITL_MEAN = (
    "sum(rate(vllm:inter_token_latency_seconds_sum{{{sel}}}[{w}])) / "
    "sum(rate(vllm:inter_token_latency_seconds_count{{{sel}}}[{w}]))"
)
# Chart series (over the last hour); latency percentiles over a 1-minute window per point.
CHART_METRICS = {
    "tokens_per_s": "tokens_per_s",
    "running": "running",
    "waiting": "waiting",
    "kv_cache_usage": "kv_cache_usage",
    "ttft_p95": "ttft_p95",
    "itl_p95": "itl_p95",
}
DCGM_PROMQL = {
    "util": "DCGM_FI_DEV_GPU_UTIL",
    "fb_used_mib": "DCGM_FI_DEV_FB_USED",
    "power_w": "DCGM_FI_DEV_POWER_USAGE",
    "temp_c": "DCGM_FI_DEV_GPU_TEMP",
}


class PrometheusError(Exception):
    """Prometheus could not be asked, or refused the query; the message says which."""


@dataclass(frozen=True)
class Selector:
    target: str
    sel: str


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def selector(name: str, tier: str, url: str, model: str) -> Selector:
    """The label matchers for one backend, from PROMETHEUS_BACKEND_SELECTOR.

    The default `instance="{hostport}"` matches Prometheus' own instance label of a static
    scrape target; with Kubernetes service discovery set e.g. `service="{name}"`."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    values = {
        "hostport": f"{host}:{port}",
        "host": host,
        "port": str(port),
        "name": name,
        "tier": tier,
        "model": model,
    }
    template = settings.PROMETHEUS_BACKEND_SELECTOR
    target = template.format(**{k: _quote(v) for k, v in values.items()})
    return Selector(target=target, sel=f'{target},model_name="{_quote(model)}"')


def expr(metric: str, s: Selector, window: str = "5m") -> str:
    return PROMQL[metric].format(target=s.target, sel=s.sel, w=window)


def _value(raw: str) -> float | None:
    value = float(raw)
    return None if math.isnan(value) or math.isinf(value) else value


def _get(http: httpx.Client, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    url = settings.PROMETHEUS_URL.rstrip("/") + path
    try:
        response = http.get(url, params=params)
    except httpx.HTTPError as exc:
        raise PrometheusError(f"{url}: {type(exc).__name__}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        raise PrometheusError(f"{url}: HTTP {response.status_code}, not JSON") from None
    if body.get("status") != "success":
        raise PrometheusError(f"{url}: {body.get('errorType', '')} {body.get('error', '')}")
    return body["data"]["result"]


def query(http: httpx.Client, promql: str) -> float | None:
    """An instant query expected to give one number (None: no series, or NaN)."""
    result = _get(http, "/api/v1/query", {"query": promql})
    return _value(result[0]["value"][1]) if result else None


def query_vector(http: httpx.Client, promql: str) -> list[tuple[dict[str, str], float | None]]:
    return [
        (r["metric"], _value(r["value"][1])) for r in _get(http, "/api/v1/query", {"query": promql})
    ]


def query_range(
    http: httpx.Client, promql: str, minutes: float, step: float
) -> list[tuple[float, float]]:
    end = time.time()
    params = {"query": promql, "start": end - minutes * 60, "end": end, "step": step}
    result = _get(http, "/api/v1/query_range", params)
    if not result:
        return []
    points = []
    for t, raw in result[0]["values"]:
        value = _value(raw)
        if value is not None:
            points.append((float(t), value))
    return points


def client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT)


def run_many(jobs: dict[Any, Any], workers: int = 8) -> dict[Any, Any]:
    """Run {key: callable} concurrently (one HTTP round trip each) and collect the results;
    an exception is returned in place of its job's value."""

    def call(fn: Any) -> Any:
        try:
            return fn()
        except PrometheusError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {key: pool.submit(call, fn) for key, fn in jobs.items()}
        return {key: future.result() for key, future in futures.items()}
