"""The "seed check": the hardware options of the original sizing, evaluated honestly.

The original sizing promised 10 concurrent users x 100 tokens/s each with Mixtral-8x7B (and
Mistral-7B) at 4k context on one of: 2x RTX 4090, 2x L40S per server, 1x H100 PCIe, or a
4-server N+1 cluster of 8 L40S. For each option and model this finds the best weight format and
tensor-parallel size the hardware allows, says what it really delivers, and what would meet the
target instead (the cheapest plan on the same GPU type, and on any catalog GPU), both with the
N+1 spare the production cluster requires.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from apps.capacity import catalog
from apps.capacity.planner import Delivery, deliver, plan
from apps.capacity.replica import Plan, PlanError, Setup, Workload

# 4k context = a 3,584-token prompt (question + retrieved chunks) + 512 generated tokens.
WORKLOAD = Workload(
    users=10, prompt_tokens=3584, output_tokens=512, target_tps=100.0, target_ttft_s=2.0
)
MODELS = ("mistral-7b", "mixtral-8x7b")
FORMATS = ("bf16", "fp8", "awq")


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    gpu: str
    gpus_per_server: int
    servers: int
    spare_servers: int


OPTIONS = (
    Option("2x4090", "2× RTX 4090", "rtx4090", 2, 1, 0),
    Option("2xl40s", "2× L40S (one server)", "l40s", 2, 1, 0),
    Option("1xh100", "1× H100 PCIe", "h100-pcie", 1, 1, 0),
    Option("cluster", "4 servers × 2 L40S, N+1", "l40s", 2, 4, 1),
)


@dataclass
class Verdict:
    option: Option
    model: catalog.ModelSpec
    weights: str  # the best format on this hardware ("" when nothing fits)
    tp: int
    delivery: Delivery | None
    same_gpu: Plan | None  # cheapest plan meeting the target on this GPU type, with N+1
    any_gpu: Plan | None  # cheapest plan on any catalog datacenter GPU, with N+1


def _tps(gpus_per_server: int) -> list[int]:
    return [tp for tp in (1, 2, 4, 8) if tp <= gpus_per_server]


def _score(d: Delivery) -> tuple[bool, int, float]:
    return (d.meets_target, d.running, d.per_user_tokens_per_s)


def best_delivery(
    option: Option, model: catalog.ModelSpec, workload: Workload = WORKLOAD
) -> tuple[str, int, Delivery | None]:
    gpu = catalog.gpu(option.gpu)
    best: tuple[str, int, Delivery | None] = ("", 0, None)
    for fmt in FORMATS:
        for tp in _tps(option.gpus_per_server):
            setup = Setup(
                weights=fmt,
                tp=tp,
                gpus_per_server=option.gpus_per_server,
                spare_servers=option.spare_servers,
            )
            try:
                d = deliver(model, gpu, workload, setup, option.servers)
            except PlanError:
                continue
            if d.replicas and (best[2] is None or _score(d) > _score(best[2])):
                best = (fmt, tp, d)
    return best


def _cheaper(a: Plan, b: Plan) -> bool:
    # On a tie in cost, the faster plan leaves more headroom.
    return (a.cost, -a.per_user_tokens_per_s) < (b.cost, -b.per_user_tokens_per_s)


def cheapest_plan(
    model: catalog.ModelSpec,
    gpus: list[catalog.GPUSpec],
    workload: Workload = WORKLOAD,
    gpus_per_server: int | None = None,
) -> Plan | None:
    found: Plan | None = None
    for gpu in gpus:
        per_server = gpus_per_server or 8
        for fmt in FORMATS:
            for tp in _tps(per_server):
                try:
                    p = plan(
                        model, gpu, workload, Setup(weights=fmt, tp=tp, gpus_per_server=per_server)
                    )
                except PlanError:
                    continue
                if p.achievable and (found is None or _cheaper(p, found)):
                    found = p
    return found


def verdicts(
    workload: Workload = WORKLOAD, prices: dict[str, float] | None = None
) -> list[Verdict]:
    prices = prices or {}
    gpus = [catalog.with_price(g, prices.get(g.key)) for g in catalog.GPUS.values()]
    by_key = {g.key: g for g in gpus}
    out = []
    for key in MODELS:
        model = catalog.model(key)
        any_gpu = cheapest_plan(model, [g for g in gpus if g.datacenter], workload)
        for option in OPTIONS:
            fmt, tp, delivery = best_delivery(option, model, workload)
            same = cheapest_plan(model, [by_key[option.gpu]], workload, option.gpus_per_server)
            out.append(Verdict(option, model, fmt, tp, delivery, same, any_gpu))
    return out


def with_workload(**changes: object) -> Workload:
    return replace(WORKLOAD, **changes)  # type: ignore[arg-type]
