"""Turns planner results into what the planner page shows: rows, chart data, cluster totals."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from apps.capacity import catalog
from apps.capacity.forms import TIER_LABELS, PlannerForm, TierInput
from apps.capacity.formulas import human
from apps.capacity.labels import FIGURE_LABELS, LIMIT_LABELS, error_text
from apps.capacity.planner import curve, plan
from apps.capacity.replica import Plan, PlanError, Replica

# Sequences per replica along the chart's x axis.
BATCHES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256]


@dataclass
class TierResult:
    tier: str
    label: str
    plan: Plan | None
    error: str
    rows: list[dict[str, str]]
    limits: list[str]


@dataclass
class Totals:
    gpus: int
    servers: int
    spare_servers: int
    power_w: str
    cost: str
    complete: bool


def build(form: PlannerForm) -> dict[str, Any]:
    gpu = form.gpu_spec()
    compare = [form.gpu_spec(k) for k in form.cleaned_data.get("compare", []) if k != gpu.key]
    tiers = form.tiers()
    results, curves, memory = [], [], []
    for t in tiers:
        results.append(_tier_result(t, gpu))
        curves.append(_curves(t, [gpu, *compare]))
        memory.append(_memory(t, [gpu, *compare]))
    return {
        "gpu": gpu,
        "results": results,
        "totals": _totals(tiers, results, gpu),
        "charts": {
            "curves": curves,
            "memory": memory,
            "text": {
                "x": _("sequences decoding at once per replica"),
                "y": _("tokens/s per user"),
                "target": _("target"),
                "weights": _("weights"),
                "kv": _("KV cache in use"),
                "free": _("KV cache free"),
                "reserve": _("reserve and headroom"),
                "nofit": _("does not fit"),
            },
        },
    }


def _tier_result(t: TierInput, gpu: catalog.GPUSpec) -> TierResult:
    label = str(TIER_LABELS[t.tier])
    try:
        p = plan(t.model, gpu, t.workload, t.setup)
    except PlanError as exc:
        return TierResult(t.tier, label, None, error_text(exc), [], [])
    rows = [
        {
            "key": f.key,
            "label": str(FIGURE_LABELS.get(f.key, f.key)),
            "value": human(f.value, f.unit),
            "formula": f.formula,
            "worked": f.worked,
        }
        for f in p.figures
    ]
    return TierResult(t.tier, label, p, "", rows, [str(LIMIT_LABELS[x]) for x in p.limits])


def _curves(t: TierInput, gpus: list[catalog.GPUSpec]) -> dict[str, Any]:
    series = []
    for gpu in gpus:
        try:
            points = curve(t.model, gpu, t.workload, t.setup, BATCHES)
        except PlanError:
            points = []
        series.append({"name": gpu.name, "points": [[b, round(v, 2)] for b, v in points]})
    return {
        "title": f"{TIER_LABELS[t.tier]}: {t.model.name}, {t.setup.weights}, TP {t.setup.tp}",
        "target": t.workload.target_tps,
        "series": series,
    }


def _memory(t: TierInput, gpus: list[catalog.GPUSpec]) -> dict[str, Any]:
    bars = []
    for gpu in gpus:
        try:
            r = Replica(t.model, gpu, t.workload, t.setup)
            p = plan(t.model, gpu, t.workload, t.setup)
        except PlanError:
            continue
        total = gpu.memory_bytes
        weights = min(r.weights_per_gpu, total)
        reserve = total - r.usable if r.fits else max(total - weights, 0)
        kv_space = max(r.kv_space, 0.0)
        in_use = min(p.batch_per_replica * r.blocks * r.kv_token_gpu, kv_space)
        bars.append(
            {
                "name": gpu.name,
                "total_gb": round(total / 1e9, 2),
                "fits": r.fits,
                "parts": [
                    ["weights", round(weights / 1e9, 2)],
                    ["kv", round(in_use / 1e9, 2)],
                    ["free", round((kv_space - in_use) / 1e9, 2)],
                    ["reserve", round(reserve / 1e9, 2)],
                ],
            }
        )
    return {"title": f"{TIER_LABELS[t.tier]}: {t.model.name}", "bars": bars}


def _totals(tiers: list[TierInput], results: list[TierResult], gpu: catalog.GPUSpec) -> Totals:
    """Both tiers on one cluster of one GPU type: GPUs packed into servers, plus the spares."""
    if not tiers:
        return Totals(0, 0, 0, "—", "—", False)
    setup = tiers[0].setup
    needed = sum(r.plan.replicas * r.plan.tp for r in results if r.plan)
    per_server = setup.gpus_per_server
    servers_n = math.ceil(needed / per_server) if needed else 0
    spare = setup.spare_servers if servers_n else 0
    gpus = needed + spare * min(needed, per_server)
    servers = servers_n + spare
    power = gpus * gpu.power_w + servers * setup.server_power_w
    cost = gpus * gpu.price + servers * setup.server_price
    complete = all(r.plan and r.plan.achievable for r in results)
    return Totals(gpus, servers, spare, human(power, "W"), human(cost, "USD"), complete)
