"""What the cluster is doing now: backends by tier, latencies, GPUs, the N+1 state, charts.

Two sources, one shape. With PROMETHEUS_URL (production: Prometheus already scrapes every
vLLM replica and the DCGM exporters) the figures are PromQL over the servers' own counters and
histograms. Without it, the gateway's poller is the source (apps.inference.state: live gauges
and short series), and latency percentiles over 5 and 60 minutes come from the portal's own
calls (LLMCall), as the portal measured them. Health always combines the gateway's poll with
Prometheus' `up` when there is one: either seeing the backend down turns its tile red.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.capacity import dcgm, prom
from apps.inference import state
from apps.inference.models import LLMCall, Outcome

WINDOWS = {"5m": 5, "60m": 60}
LATENCIES = ("ttft_p50", "ttft_p95", "itl_p50", "itl_p95")
# Chart panel -> gateway series metric (apps.inference.state.SERIES_METRICS).
GATEWAY_SERIES = {
    "tokens_per_s": "generation_tokens_per_s",
    "running": "running",
    "waiting": "waiting",
    "kv_cache_usage": "kv_cache_usage",
    "ttft_p95": "ttft_p95",
    "itl_p95": "itl_p95",
}
CHART_MINUTES = 60
CHART_STEP_S = 15


@dataclass
class Tile:
    """One backend as its tile shows it."""

    name: str
    tier: str
    url: str
    model: str
    enabled: bool
    healthy: bool
    problem: str
    detail: str
    running: float | None = None
    waiting: float | None = None
    kv_cache_usage: float | None = None
    tokens_per_s: float | None = None
    itl_mean: float | None = None
    problem_label: str = ""
    latency: dict[str, float | None] = field(default_factory=dict)

    @property
    def kv_percent(self) -> int | None:
        return None if self.kv_cache_usage is None else round(self.kv_cache_usage * 100)

    @property
    def latency_rows(self) -> list[tuple[str, list[str]]]:
        """[("ttft", [p50 5m, p95 5m, p50 60m, p95 60m]), ("itl", [...])], formatted."""
        return [
            (
                kind,
                [_ms(self.latency.get(f"{kind}_{q}_{w}")) for w in WINDOWS for q in ("p50", "p95")],
            )
            for kind in ("ttft", "itl")
        ]


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


@dataclass
class TierHA:
    """Healthy replicas of a tier against N (needed to serve) + spares."""

    tier: str
    enabled: int
    healthy: int
    needed: int
    required: int

    @property
    def status(self) -> str:
        if self.healthy == 0:
            return "down"
        if self.healthy < self.needed:
            return "degraded"
        if self.healthy < self.required:
            return "no_spare"
        return "ok"


@dataclass
class Cluster:
    source: str
    error: str
    tiles: list[Tile]
    tiers: list[TierHA]
    gpus: list[dcgm.GPUReading]
    gpu_errors: list[str]
    charts: dict[str, Any]
    at: float

    @property
    def spare_missing(self) -> bool:
        return any(t.status != "ok" for t in self.tiers)


def snapshot() -> Cluster:
    states = state.backend_states(enabled_only=False)
    tiles = [
        Tile(
            name=s.name,
            tier=s.tier,
            url=s.url,
            model=s.model,
            enabled=s.enabled,
            healthy=s.healthy,
            problem=s.problem,
            detail=s.detail or s.reason,
            running=s.running,
            waiting=s.waiting,
            kv_cache_usage=s.kv_cache_usage,
            tokens_per_s=s.tokens_per_s_1m,
        )
        for s in states
    ]
    source, error, charts = "gateway", "", {}
    if settings.PROMETHEUS_URL:
        try:
            charts = _from_prometheus(tiles)
            source = "prometheus"
        except prom.PrometheusError as exc:
            error = str(exc)
    if source == "gateway":
        _latencies_from_calls(tiles)
        charts = _gateway_charts(tiles)
    urls = [u.strip() for u in settings.DCGM_EXPORTER_URL.split(",") if u.strip()]
    gpus, gpu_errors = dcgm.read(urls) if urls else ([], [])
    return Cluster(source, error, tiles, _ha(tiles), gpus, gpu_errors, charts, time.time())


def _ha(tiles: list[Tile]) -> list[TierHA]:
    spares = settings.CAPACITY_HA_SPARES
    out = []
    for tier in sorted({t.tier for t in tiles}):
        members = [t for t in tiles if t.tier == tier and t.enabled]
        if not members:
            continue
        healthy = sum(1 for t in members if t.healthy)
        # Without a stated N, the tier was built as N + spares: every enabled replica counts.
        needed = int(settings.CAPACITY_TIER_REPLICAS.get(tier, max(len(members) - spares, 1)))
        out.append(TierHA(tier, len(members), healthy, needed, needed + spares))
    return out


# --- Prometheus ---------------------------------------------------------------------------------
def _from_prometheus(tiles: list[Tile]) -> dict[str, Any]:
    selectors = {t.name: prom.selector(t.name, t.tier, t.url, t.model) for t in tiles}
    unique = {s for s in selectors.values()}
    with prom.client() as http:
        # A first query tells an unreachable Prometheus apart before dozens of queries time out.
        prom.query(http, "vector(1)")
        jobs: dict[Any, Any] = {}
        for s in unique:
            for metric in ("up", "running", "waiting", "kv_cache_usage", "tokens_per_s"):
                jobs[(s, metric)] = _instant(http, prom.expr(metric, s))
            jobs[(s, "itl_mean")] = _instant(http, prom.ITL_MEAN.format(sel=s.sel, w="5m"))
            for key in LATENCIES:
                for window in WINDOWS:
                    jobs[(s, f"{key}_{window}")] = _instant(http, prom.expr(key, s, window))
            for panel, metric in prom.CHART_METRICS.items():
                jobs[(s, f"chart:{panel}")] = _range(http, prom.expr(metric, s, "1m"))
        results = prom.run_many(jobs)
    for t in tiles:
        s = selectors[t.name]
        got = {key: value for (sel, key), value in results.items() if sel == s}
        up = _number(got.get("up"))
        if up is not None and up < 1:
            t.healthy = False
            t.problem = t.problem or "unreachable"
            t.detail = t.detail or "Prometheus: up == 0"
        for metric in ("running", "waiting", "kv_cache_usage", "tokens_per_s", "itl_mean"):
            value = _number(got.get(metric))
            if value is not None:
                setattr(t, metric, value)
        t.latency = {f"{k}_{w}": _number(got.get(f"{k}_{w}")) for k in LATENCIES for w in WINDOWS}
    panels = {}
    for panel in prom.CHART_METRICS:
        panels[panel] = [
            {"name": t.name, "points": _points(results.get((selectors[t.name], f"chart:{panel}")))}
            for t in tiles
            if t.enabled
        ]
    return {"panels": panels}


def _instant(http: Any, promql: str) -> Any:
    return lambda: prom.query(http, promql)


def _range(http: Any, promql: str) -> Any:
    return lambda: prom.query_range(http, promql, CHART_MINUTES, CHART_STEP_S)


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) else None


def _points(value: Any) -> list[list[float]]:
    return [[round(t, 1), round(v, 4)] for t, v in value] if isinstance(value, list) else []


# --- the gateway's own data ---------------------------------------------------------------------
def _latencies_from_calls(tiles: list[Tile]) -> None:
    """Percentiles over the portal's calls per backend: TTFT as measured by the portal, and
    inter-token latency as each call's mean gap (1 / its tokens per second)."""
    now = timezone.now()
    since = now - timedelta(minutes=max(WINDOWS.values()))
    rows = LLMCall.objects.filter(
        started__gte=since, outcome__in=[Outcome.COMPLETE, Outcome.INTERRUPTED]
    ).values_list("backend", "started", "ttft_s", "tokens_per_s")
    by_backend: dict[str, list[tuple[Any, float | None, float | None]]] = {}
    for backend, started, ttft, tps in rows:
        by_backend.setdefault(backend, []).append((started, ttft, tps))
    for t in tiles:
        calls = by_backend.get(t.name, [])
        for window, minutes in WINDOWS.items():
            recent = [c for c in calls if c[0] >= now - timedelta(minutes=minutes)]
            ttfts = [c[1] for c in recent if c[1] is not None]
            itls = [1 / c[2] for c in recent if c[2]]
            t.latency[f"ttft_p50_{window}"] = _percentile(ttfts, 0.5)
            t.latency[f"ttft_p95_{window}"] = _percentile(ttfts, 0.95)
            t.latency[f"itl_p50_{window}"] = _percentile(itls, 0.5)
            t.latency[f"itl_p95_{window}"] = _percentile(itls, 0.95)
            if window == "5m" and itls:
                t.itl_mean = statistics.fmean(itls)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    # Nearest rank, as a reader expects of "95 % of calls were faster than this".
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def _gateway_charts(tiles: list[Tile]) -> dict[str, Any]:
    panels = {}
    for panel, metric in GATEWAY_SERIES.items():
        panels[panel] = [
            {
                "name": t.name,
                "points": [
                    [round(ts, 1), round(v, 4)]
                    for ts, v in state.series(t.name, metric, CHART_MINUTES)
                ],
            }
            for t in tiles
            if t.enabled
        ]
    return {"panels": panels}
