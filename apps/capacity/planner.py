"""The plan: how many replicas and servers a workload needs on a GPU type, what a given set
of servers delivers, and the per-user rate curve. The arithmetic of one replica is in
replica.py; formulas.py spells each figure out for the page."""

from __future__ import annotations

import math
from dataclasses import dataclass

from apps.capacity.catalog import GPUSpec, ModelSpec
from apps.capacity.formulas import figures
from apps.capacity.replica import Plan, Replica, Setup, Workload

# --- the plan ---------------------------------------------------------------------------------


def plan(model: ModelSpec, gpu: GPUSpec, workload: Workload, setup: Setup) -> Plan:
    """Replicas and servers this GPU type needs for the workload, and whether any number can."""
    r = Replica(model, gpu, workload, setup)
    w, tp = workload, setup.tp
    best = r.best_batch() if r.max_seqs >= 1 else 0
    if r.max_seqs < 1:
        batch, limits = 0, ["memory"]
    elif best == 0:
        batch, limits = 1, r.limit_at(1)  # even one sequence per replica misses: scale-out can't
    else:
        batch = best
        # What stops one more sequence per replica is what forces more replicas.
        limits = r.limit_at(best + 1) if best < w.users else []
    replicas = math.ceil(w.users / batch) if batch else 0
    batch_run = math.ceil(w.users / replicas) if replicas else 0
    step = r.step(max(batch_run, 1))
    per_user = r.rate(batch_run) if replicas else 0.0
    replicas_per_server = setup.gpus_per_server // tp
    servers_n = math.ceil(replicas / replicas_per_server) if replicas else 0
    spare = setup.spare_servers if servers_n else 0
    gpus_needed = replicas * tp
    # A spare server carries as many GPUs as the fullest working server, so it can replace it.
    gpus_total = gpus_needed + spare * min(gpus_needed, replicas_per_server * tp)
    servers = servers_n + spare
    result = Plan(
        model=model.name,
        gpu=gpu.name,
        weights_format=setup.weights,
        tp=tp,
        users=w.users,
        fits=r.fits,
        weights_bytes=r.weights,
        weights_bytes_per_gpu=r.weights_per_gpu,
        kv_bytes_per_token=r.kv_token,
        kv_bytes_per_request=r.kv_request,
        kv_capacity_bytes_per_gpu=max(r.kv_space, 0.0),
        max_concurrent_sequences=r.max_seqs,
        batch_per_replica=batch_run,
        step_s=step.seconds if replicas else 0.0,
        decode_tokens_per_s=1 / step.seconds if replicas else 0.0,
        per_user_tokens_per_s=per_user,
        total_tokens_per_s=per_user * w.users,
        prefill_s=r.prefill_s,
        ttft_s=r.prefill_s + step.seconds if replicas else 0.0,
        replicas=replicas,
        gpus=gpus_total,
        servers=servers,
        spare_servers=spare,
        power_w=gpus_total * gpu.power_w + servers * setup.server_power_w,
        cost=gpus_total * gpu.price + servers * setup.server_price,
        achievable=best > 0,
        limits=limits,
        bound_at_target=step.bound if replicas else "memory",
    )
    result.figures = figures(r, result, step)
    return result


@dataclass
class Delivery:
    """What a given set of servers delivers to the workload (spares held back for HA)."""

    servers: int
    serving_gpus: int
    replicas: int
    running: int
    queued: int
    batch_per_replica: int
    per_user_tokens_per_s: float
    total_tokens_per_s: float
    ttft_s: float
    meets_target: bool
    limits: list[str]


def deliver(
    model: ModelSpec, gpu: GPUSpec, workload: Workload, setup: Setup, servers: int
) -> Delivery:
    r = Replica(model, gpu, workload, setup)
    w = workload
    serving = max(servers - setup.spare_servers, 0) * setup.gpus_per_server
    replicas = serving // setup.tp if r.max_seqs >= 1 else 0
    if not replicas:
        limits = ["memory"] if r.max_seqs < 1 else []
        return Delivery(servers, serving, 0, 0, w.users, 0, 0.0, 0.0, 0.0, False, limits)
    batch = min(math.ceil(w.users / replicas), r.max_seqs)
    running = min(w.users, replicas * r.max_seqs)
    per_user = r.rate(batch)
    ttft = r.ttft(batch)
    queued = w.users - running
    meets = not queued and per_user >= w.target_tps and ttft <= w.target_ttft_s
    limits = [] if meets else r.limit_at(batch if not queued else batch + 1)
    return Delivery(
        servers,
        serving,
        replicas,
        running,
        queued,
        batch,
        per_user,
        per_user * running,
        ttft,
        meets,
        limits,
    )


def curve(
    model: ModelSpec, gpu: GPUSpec, workload: Workload, setup: Setup, batches: list[int]
) -> list[tuple[int, float]]:
    """Per-user tokens/s against sequences per replica, as far as memory allows."""
    r = Replica(model, gpu, workload, setup)
    return [(b, r.rate(b)) for b in batches if b <= r.max_seqs]
