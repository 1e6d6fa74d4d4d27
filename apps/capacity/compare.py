"""Planned against measured: the planner's per-user tokens/s for what a tier really runs.

CAPACITY_PLANNED names, per tier, the model, weight format, GPU and TP the replicas run (the
catalog cannot guess them from a served model name). The planner is asked for the per-user
rate at the concurrency the tier measures now; the measurement is 1 / mean inter-token latency
over the last 5 minutes, averaged over the tier's healthy replicas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.capacity import catalog
from apps.capacity.live import Tile
from apps.capacity.replica import PlanError, Replica, Setup, Workload


@dataclass
class Comparison:
    tier: str
    label: str
    batch: int
    planned: float | None
    measured: float | None
    error: str = ""

    @property
    def attrs(self) -> str:
        """Machine-readable figures for the row (decimal point whatever the page language)."""

        def fmt(v: float | None) -> str:
            return "" if v is None else f"{v:.2f}"

        return f'data-planned="{fmt(self.planned)}" data-measured="{fmt(self.measured)}"'

    @property
    def ratio(self) -> float | None:
        if not self.planned or self.measured is None:
            return None
        return self.measured / self.planned


def parse(spec: Any) -> tuple[catalog.ModelSpec, catalog.GPUSpec, Workload, Setup]:
    """One CAPACITY_PLANNED entry; raises CatalogError/PlanError/ValueError with the reason."""
    if not isinstance(spec, dict):
        raise ValueError("each tier's entry must be a JSON object")
    raw_model = spec.get("model")
    model = (
        catalog.custom_model(raw_model)
        if isinstance(raw_model, dict)
        else catalog.model(str(raw_model))
    )
    raw_gpu = spec.get("gpu")
    if isinstance(raw_gpu, dict):
        gpu = catalog.custom_gpu(
            name=str(raw_gpu.get("name", "custom GPU")),
            memory_gb=float(raw_gpu["memory_gb"]),
            bandwidth_gbs=float(raw_gpu["bandwidth_gbs"]),
            bf16_tflops=float(raw_gpu["bf16_tflops"]),
            fp8_tflops=float(raw_gpu.get("fp8_tflops", 0)),
            interconnect=str(raw_gpu.get("interconnect", "pcie")),
        )
    else:
        gpu = catalog.gpu(str(raw_gpu))
    workload = Workload(
        users=1,
        prompt_tokens=int(spec.get("prompt_tokens", 3584)),
        output_tokens=int(spec.get("output_tokens", 512)),
    )
    setup = Setup(
        weights=str(spec.get("weights", "bf16")),
        kv_dtype=str(spec.get("kv_dtype", "auto")),
        tp=int(spec.get("tp", 1)),
        gpus_per_server=max(int(spec.get("tp", 1)), 8),
    )
    Replica(model, gpu, workload, setup)  # validates the combination
    return model, gpu, workload, setup


def check_settings() -> list[str]:
    errors = []
    planned = settings.CAPACITY_PLANNED
    if not isinstance(planned, dict):
        return ["CAPACITY_PLANNED must be a JSON object: tier -> planned deployment"]
    for tier, spec in planned.items():
        try:
            parse(spec)
        except (catalog.CatalogError, PlanError, ValueError, KeyError, TypeError) as exc:
            errors.append(f"CAPACITY_PLANNED[{tier!r}]: {exc}")
    replicas = settings.CAPACITY_TIER_REPLICAS
    if not isinstance(replicas, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in replicas.values()
    ):
        errors.append("CAPACITY_TIER_REPLICAS must map each tier to a whole number >= 1")
    return errors


def planned_vs_measured(tiles: list[Tile]) -> list[Comparison]:
    out = []
    planned = settings.CAPACITY_PLANNED if isinstance(settings.CAPACITY_PLANNED, dict) else {}
    for tier, spec in planned.items():
        members = [t for t in tiles if t.tier == tier and t.enabled and t.healthy]
        running = [t.running or 0.0 for t in members]
        batch = max(1, round(sum(running) / len(running))) if running else 1
        measured_rates = [1 / t.itl_mean for t in members if t.itl_mean]
        measured = sum(measured_rates) / len(measured_rates) if measured_rates else None
        try:
            model, gpu, workload, setup = parse(spec)
        except (catalog.CatalogError, PlanError, ValueError, KeyError, TypeError) as exc:
            out.append(Comparison(tier, "", batch, None, measured, str(exc)))
            continue
        replica = Replica(model, gpu, workload, setup)
        label = f"{model.name}, {setup.weights}, {gpu.name}, TP {setup.tp}"
        rate = replica.rate(batch) if batch <= replica.max_seqs else None
        out.append(Comparison(tier, label, batch, rate, measured))
    return out
