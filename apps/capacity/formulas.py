"""The formula behind each planner output, symbolic and with the numbers put in.

Kept apart from replica.py so that file stays about the model; the page shows exactly the
arithmetic the planner did.
"""

from __future__ import annotations

from apps.capacity.replica import (
    BITS,
    GB,
    Figure,
    GiB,
    Plan,
    Replica,
    Step,
    expected_experts,
    fp16_params,
    tflops_for,
)


def figures(r: Replica, p: Plan, step: Step) -> list[Figure]:
    model, gpu, w, s = r.model, r.gpu, r.workload, r.setup
    bits = BITS[s.weights]
    if bits == 16:
        weights_formula = "params_total × 2 B"
        weights_worked = f"{model.params_total:,} × 2"
    else:
        keep = fp16_params(model)
        weights_formula = (
            f"(params_total − fp16_params) × {bits:.3f}/8 + fp16_params × 2 B; "
            "fp16_params = embeddings + lm_head + router + norms"
        )
        weights_worked = f"({model.params_total:,} − {keep:,}) × {bits:.3f}/8 + {keep:,} × 2"
    b = max(p.batch_per_replica, 1)
    tflops = tflops_for(gpu, s.weights)
    out = [
        Figure("weights_bytes", p.weights_bytes, "B", weights_formula, weights_worked),
        Figure(
            "kv_bytes_per_token",
            p.kv_bytes_per_token,
            "B",
            "2 × layers × kv_heads × head_dim × bytes",
            f"2 × {model.num_hidden_layers} × {model.num_key_value_heads} × "
            f"{model.head_dim} × {r.element}",
        ),
        Figure(
            "kv_bytes_per_request",
            p.kv_bytes_per_request,
            "B",
            "⌈(prompt + output) / 16⌉ × 16 × kv_bytes_per_token",
            f"{r.blocks} × {p.kv_bytes_per_token:,}",
        ),
        Figure(
            "kv_capacity_bytes_per_gpu",
            p.kv_capacity_bytes_per_gpu,
            "B",
            "memory × gpu_memory_utilization − reserve − weights / TP",
            f"{gpu.memory_bytes / GB:.2f} GB × {s.gpu_memory_utilization} − "
            f"{s.reserve_gib * GiB / GB:.2f} GB − {p.weights_bytes / GB:.2f} GB / {s.tp}",
        ),
        Figure(
            "max_concurrent_sequences",
            p.max_concurrent_sequences,
            "",
            "min(⌊kv_capacity_per_gpu / kv_bytes_per_request_per_gpu⌋, max_num_seqs)",
            f"min(⌊{p.kv_capacity_bytes_per_gpu / GB:.2f} GB / "
            f"{r.blocks * r.kv_token_gpu / GB:.3f} GB⌋, {s.max_num_seqs})",
        ),
    ]
    if model.is_moe:
        e, k = model.num_experts, model.experts_per_token
        out.append(
            Figure(
                "experts_touched",
                expected_experts(e, k, b),
                "",
                "E × (1 − (1 − k/E)^B) per layer",
                f"{e} × (1 − (1 − {k}/{e})^{b})",
            )
        )
    out += [
        Figure(
            "step_s",
            p.step_s,
            "s",
            "max((weights_read + B × avg_context × kv_bytes_per_token) / (TP × bandwidth × "
            "efficiency), 2 × active_params × B / (TP × TFLOPS × MFU)) + all-reduce + overhead",
            f"max(({step.weights_read / GB:.2f} GB + {b} × {r.avg_ctx:.0f} × "
            f"{p.kv_bytes_per_token:,} B) / ({s.tp} × {gpu.bandwidth_gbs:g} GB/s × "
            f"{s.bandwidth_efficiency}), {step.compute_s * 1000:.2f} ms) + "
            f"{step.comm_s * 1000:.2f} ms + {step.overhead_s * 1000:.1f} ms",
        ),
        Figure(
            "per_user_tokens_per_s",
            p.per_user_tokens_per_s,
            "tok/s",
            "output / (output × step + (B − 1) × prefill)",
            f"{w.output_tokens} / ({w.output_tokens} × {p.step_s:.4f} + {b - 1} × "
            f"{p.prefill_s:.3f})",
        ),
        Figure(
            "total_tokens_per_s",
            p.total_tokens_per_s,
            "tok/s",
            "per_user × users",
            f"{p.per_user_tokens_per_s:.1f} × {w.users}",
        ),
        Figure(
            "ttft_s",
            p.ttft_s,
            "s",
            "(2 × active_params × prompt + 2 × layers × prompt² × heads × head_dim) / "
            "(TP × TFLOPS × MFU) + all-reduce + one decode step",
            f"(2 × {model.params_active:,} × {w.prompt_tokens} + 2 × "
            f"{model.num_hidden_layers} × {w.prompt_tokens}² × {model.num_attention_heads} × "
            f"{model.head_dim}) / ({s.tp} × {tflops:g} TFLOPS × {s.mfu}) + "
            f"{p.step_s * 1000:.1f} ms",
        ),
        Figure(
            "replicas",
            p.replicas,
            "",
            "⌈users / sequences_per_replica⌉",
            f"⌈{w.users} / {p.batch_per_replica}⌉" if p.batch_per_replica else "—",
        ),
        Figure(
            "servers",
            p.servers,
            "",
            "⌈replicas / ⌊gpus_per_server / TP⌋⌉ + spare",
            f"⌈{p.replicas} / {s.gpus_per_server // s.tp}⌉ + {p.spare_servers}",
        ),
        Figure(
            "power_w",
            p.power_w,
            "W",
            "GPUs × GPU power + servers × server power",
            f"{p.gpus} × {gpu.power_w:g} + {p.servers} × {s.server_power_w:g}",
        ),
        Figure(
            "cost",
            p.cost,
            "USD",
            "GPUs × GPU price + servers × server price",
            f"{p.gpus} × {gpu.price:g} + {p.servers} × {s.server_price:g}",
        ),
    ]
    return out


def human(value: float, unit: str) -> str:
    """A figure for reading: bytes in GB/MB, seconds in ms, power in kW, money with separators."""
    if unit == "B":
        if value >= 1e9:
            return f"{value / 1e9:,.2f} GB"
        if value >= 1e6:
            return f"{value / 1e6:,.1f} MB"
        return f"{value:,.0f} B"
    if unit == "s":
        return f"{value * 1000:,.1f} ms" if value < 1 else f"{value:,.2f} s"
    if unit == "W":
        return f"{value / 1000:,.1f} kW" if value >= 1000 else f"{value:,.0f} W"
    if unit == "USD":
        return f"${value:,.0f}"
    if unit == "tok/s":
        return f"{value:,.1f} tok/s"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"
