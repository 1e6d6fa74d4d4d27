"""Planner numbers against values computed by hand from the published configs and datasheets."""

from __future__ import annotations

import pytest

from apps.capacity import catalog, seed
from apps.capacity.planner import plan
from apps.capacity.replica import (
    PlanError,
    Replica,
    Setup,
    Workload,
    decode_step,
    expected_experts,
    kv_bytes_per_token,
    weight_bytes,
)

MISTRAL = catalog.model("mistral-7b")
MIXTRAL = catalog.model("mixtral-8x7b")


def test_kv_bytes_per_token_mistral_bf16() -> None:
    # 2 (K and V) x 32 layers x 8 KV heads x head_dim 128 x 2 bytes
    assert kv_bytes_per_token(MISTRAL, 2) == 2 * 32 * 8 * 128 * 2 == 131_072
    assert plan(MISTRAL, catalog.gpu("l40s"), Workload(), Setup()).kv_bytes_per_token == 131_072


def test_kv_bytes_per_token_custom_model_reads_head_dim() -> None:
    # head_dim 96 on purpose: hidden 5120 / 40 heads would give 128, and must not be used.
    custom = catalog.custom_model(
        {
            "num_hidden_layers": 40,
            "hidden_size": 5120,
            "num_attention_heads": 40,
            "num_key_value_heads": 8,
            "head_dim": 96,
            "params_total": 14_000_000_000,
            "params_active": 14_000_000_000,
        }
    )
    assert kv_bytes_per_token(custom, 2) == 2 * 40 * 8 * 96 * 2 == 122_880
    assert kv_bytes_per_token(custom, 1) == 61_440  # fp8 KV cache


def test_mixtral_awq_weights_near_the_real_24_6_gb() -> None:
    # Quantized: everything but embeddings (32000 x 4096), lm_head (same), router (32 x 4096 x 8)
    # and norms ((2 x 32 + 1) x 4096), at 4 + 20/128 bits; those stay fp16.
    fp16 = 2 * 32000 * 4096 + 32 * 4096 * 8 + 65 * 4096
    by_hand = (46_702_792_704 - fp16) * (4 + 20 / 128) / 8 + fp16 * 2
    weights = weight_bytes(MIXTRAL, "awq")
    assert weights == round(by_hand)
    assert 24.55e9 < weights < 24.75e9  # the AWQ checkpoint on disk: 24.65 GB
    assert weight_bytes(MIXTRAL, "bf16") == 46_702_792_704 * 2


def test_dense_decode_step_from_bandwidth() -> None:
    llama = catalog.model("llama-3-8b")
    h100 = catalog.gpu("h100-sxm")
    # Pure bandwidth bound: bf16 weights without the input embedding table (gathered row by
    # row), plus one sequence's KV at 1,024 tokens of context, over 3,350 GB/s.
    setup = Setup(bandwidth_efficiency=1.0, step_overhead_ms=0)
    weights_read = 8_030_261_248 * 2 - 128_256 * 4096 * 2
    kv_read = 1024 * 131_072
    step = decode_step(llama, h100, setup, batch=1, avg_context=1024)
    assert step.weights_read == weights_read
    assert step.kv_read == kv_read
    assert step.bound == "bandwidth"
    assert step.seconds == pytest.approx((weights_read + kv_read) / 3350e9, rel=1e-9)
    # With the default efficiency and per-step overhead: / (bandwidth x 0.8) + 1 ms.
    default = decode_step(llama, h100, Setup(), batch=1, avg_context=1024)
    assert default.seconds == pytest.approx((weights_read + kv_read) / (3350e9 * 0.8) + 0.001)


def test_calibration_point_reproduces_published_a100_measurement() -> None:
    # Llama-3.1-8B bf16 on an A100 40GB (1,555 GB/s), one request, 1,024 in / 128 out:
    # published vLLM measurement ~75 tokens/s.
    a100_40 = catalog.custom_gpu(
        name="A100 40GB", memory_gb=40, bandwidth_gbs=1555, bf16_tflops=312
    )
    replica = Replica(
        catalog.model("llama-3-8b"),
        a100_40,
        Workload(users=1, prompt_tokens=1024, output_tokens=128),
        Setup(),
    )
    assert 1 / replica.step(1).seconds == pytest.approx(75, rel=0.05)


def test_moe_expert_touch_expectation() -> None:
    assert expected_experts(8, 2, 1) == pytest.approx(2.0)  # one token reads its k experts
    assert expected_experts(8, 2, 32) == pytest.approx(8 * (1 - 0.75**32))  # 7.9992
    assert expected_experts(128, 8, 1) == pytest.approx(8.0)
    assert expected_experts(128, 8, 32) == pytest.approx(128 * (1 - (120 / 128) ** 32))  # 111.8
    # So a Mixtral batch of 32 reads nearly every expert: about 4x the batch-1 expert bytes.
    one = decode_step(MIXTRAL, catalog.gpu("h100-sxm"), Setup(weights="awq"), 1, 1024)
    many = decode_step(MIXTRAL, catalog.gpu("h100-sxm"), Setup(weights="awq"), 32, 1024)
    assert many.weights_read > 3 * one.weights_read


def test_verdicts_name_what_limits() -> None:
    l40s = catalog.gpu("l40s")
    # Mixtral bf16 (93.4 GB) cannot fit two L40S (2 x 46 GB x 0.9).
    no_fit = plan(MIXTRAL, l40s, Workload(), Setup(weights="bf16", tp=2))
    assert not no_fit.achievable and no_fit.limits == ["memory"] and no_fit.replicas == 0
    # Mistral bf16 on one L40S: even one user per replica stays under 100 tokens/s.
    slow = plan(MISTRAL, l40s, Workload(), Setup(weights="bf16"))
    assert not slow.achievable and slow.limits == ["bandwidth"]
    assert slow.per_user_tokens_per_s < 100
    # Mistral on an H200 serves all ten users from one replica; N+1 adds a server.
    fast = plan(MISTRAL, catalog.gpu("h200"), Workload(), Setup(weights="bf16"))
    assert fast.achievable and fast.replicas == 1 and fast.servers == 2 and fast.limits == []


def test_bad_inputs_are_refused_with_the_reason() -> None:
    with pytest.raises(PlanError, match="divide"):
        plan(catalog.model("qwen2.5-7b"), catalog.gpu("h100-sxm"), Workload(), Setup(tp=8))
    with pytest.raises(PlanError, match="embedding"):
        plan(catalog.MODELS["bge-m3"], catalog.gpu("l4"), Workload(), Setup())
    config = {
        "num_hidden_layers": 2,
        "hidden_size": 64,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "params_total": 1000,
        "params_active": 1000,
    }
    with pytest.raises(catalog.CatalogError, match="head_dim is required"):
        catalog.custom_model(config)  # never derived from hidden_size / heads
    with pytest.raises(catalog.CatalogError, match="whole number"):
        catalog.custom_model({**config, "head_dim": "32"})


def test_seed_check_tells_the_truth_about_the_l40s_cluster() -> None:
    verdicts = {(v.model.key, v.option.key): v for v in seed.verdicts()}
    cluster = verdicts[("mixtral-8x7b", "cluster")]
    assert cluster.delivery is not None and not cluster.delivery.meets_target
    assert cluster.delivery.per_user_tokens_per_s < 100
    assert cluster.delivery.limits == ["bandwidth"]
    # ... and says what would: a plan on the same GPU and one on any datacenter GPU.
    assert cluster.same_gpu is not None and cluster.same_gpu.achievable
    assert cluster.any_gpu is not None and catalog.GPUS["rtx4090"].name != cluster.any_gpu.gpu
    assert verdicts[("mistral-7b", "cluster")].delivery.meets_target  # type: ignore[union-attr]
