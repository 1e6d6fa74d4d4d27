"""Admin console page "Cluster": live backends by tier, latencies, GPUs and the N+1 state.

One view: the full page, and the live part alone when htmx asks for it (every few seconds);
the charts' points travel inside that part, so one request refreshes tiles and charts.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.accounts.roles import admin_required
from apps.capacity import compare, live
from apps.inference.console import PROBLEM_LABELS
from common.http import HtmxHttpRequest

REFRESH_SECONDS = 5


def _panels() -> dict[str, dict[str, str]]:
    return {
        "tokens_per_s": {"title": _("Tokens/s generated"), "unit": "tok/s"},
        "running": {"title": _("Requests running"), "unit": ""},
        "waiting": {"title": _("Requests waiting"), "unit": ""},
        "kv_cache_usage": {"title": _("KV cache use, %"), "unit": "%"},
        "ttft_p95": {"title": _("Time to first token, p95, s"), "unit": "s"},
        "itl_p95": {"title": _("Inter-token latency, p95, s"), "unit": "s"},
    }


@never_cache
@require_GET
@admin_required
def cluster(request: HtmxHttpRequest) -> HttpResponse:
    snap = live.snapshot()
    for tile in snap.tiles:
        tile.problem_label = str(PROBLEM_LABELS.get(tile.problem, tile.problem))
    panels = _panels()
    charts: dict[str, Any] = {
        "panels": [
            {"key": key, **panels[key], "series": _scaled(key, series)}
            for key, series in snap.charts.get("panels", {}).items()
        ],
        "empty": _("no data yet"),
    }
    context = {
        "snap": snap,
        "tiles_by_tier": _by_tier(snap.tiles),
        "comparisons": compare.planned_vs_measured(snap.tiles),
        "charts": charts,
        "refresh": REFRESH_SECONDS,
        "spares": settings.CAPACITY_HA_SPARES,
        "prometheus_url": settings.PROMETHEUS_URL,
        "dcgm_configured": bool(settings.DCGM_EXPORTER_URL),
    }
    template = (
        "capacity/console_cluster.html#live" if request.htmx else "capacity/console_cluster.html"
    )
    return render(request, template, context)


def _scaled(key: str, series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if key != "kv_cache_usage":
        return series
    # vLLM reports a fraction; people read cache use in percent.
    return [{**s, "points": [[t, round(v * 100, 2)] for t, v in s["points"]]} for s in series]


def _by_tier(tiles: list[live.Tile]) -> list[tuple[str, list[live.Tile]]]:
    tiers: dict[str, list[live.Tile]] = {}
    for tile in tiles:
        tiers.setdefault(tile.tier, []).append(tile)
    return sorted(tiers.items())
