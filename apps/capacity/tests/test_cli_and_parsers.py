"""`manage.py capacity plan`, the DCGM parser on recorded real exporter output, and the PromQL
kept in step between the page, docs/capacity.md and the Grafana dashboard."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.capacity import dcgm, prom

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[3]
KEYS = {
    "weights_bytes",
    "kv_bytes_per_token",
    "kv_bytes_per_request",
    "max_concurrent_sequences",
    "per_user_tokens_per_s",
    "total_tokens_per_s",
    "ttft_s",
    "replicas",
    "servers",
    "achievable",
    "limits",
}


def run(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("capacity", "plan", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_cli_json_has_every_key() -> None:
    result = run("--model", "mixtral-8x7b", "--weights", "awq", "--gpu", "l40s", "--tp", "2")
    assert result.keys() >= KEYS
    assert result["kv_bytes_per_token"] == 131_072
    assert 24.55e9 < result["weights_bytes"] < 24.75e9
    assert result["servers"] >= 2  # the N+1 spare is included
    assert isinstance(result["achievable"], bool) and isinstance(result["limits"], list)


def test_cli_flags_change_the_plan() -> None:
    base = ["--model", "mistral-7b", "--weights", "bf16", "--gpu", "h100-sxm"]
    few = run(*base, "--users", "2", "--prompt-tokens", "512", "--output-tokens", "128")
    many = run(*base, "--users", "64", "--prompt-tokens", "512", "--output-tokens", "128")
    assert many["replicas"] >= few["replicas"]
    fp8 = run(*base, "--kv-dtype", "fp8")
    assert fp8["kv_bytes_per_token"] == 65_536
    strict = run(*base, "--target-tps", "1000")
    assert strict["achievable"] is False and strict["limits"]


def test_cli_custom_model_json(tmp_path: Path) -> None:
    spec = {
        "num_hidden_layers": 28,
        "hidden_size": 3584,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "head_dim": 128,
        "params_total": 7_615_616_512,
        "params_active": 7_615_616_512,
    }
    path = tmp_path / "model.json"
    path.write_text(json.dumps(spec))
    result = run("--model-json", str(path), "--weights", "bf16", "--gpu", "l4")
    assert result["kv_bytes_per_token"] == 2 * 28 * 4 * 128 * 2
    assert result["weights_bytes"] == 7_615_616_512 * 2


def test_cli_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="unknown model 'gpt-5'; known models: mistral-7b"):
        run("--model", "gpt-5", "--weights", "bf16", "--gpu", "l40s")
    with pytest.raises(CommandError, match="unknown GPU 'b200'"):
        run("--model", "mistral-7b", "--weights", "bf16", "--gpu", "b200")
    broken = tmp_path / "broken.json"
    broken.write_text('{"num_hidden_layers": 32,')
    with pytest.raises(CommandError, match="is not valid JSON"):
        run("--model-json", str(broken), "--weights", "bf16", "--gpu", "l40s")
    partial = tmp_path / "partial.json"
    partial.write_text('{"num_hidden_layers": 32}')
    with pytest.raises(CommandError, match="hidden_size is required"):
        run("--model-json", str(partial), "--weights", "bf16", "--gpu", "l40s")
    with pytest.raises(CommandError, match="not both"):
        run(
            "--model",
            "mistral-7b",
            "--model-json",
            str(partial),
            "--weights",
            "bf16",
            "--gpu",
            "l4",
        )


def test_dcgm_parser_on_recorded_exporter_2_0_13_response() -> None:
    gpus = dcgm.parse((DATA / "dcgm_exporter_2.0.13_recorded.txt").read_text(), "gpu-node-1")
    assert len(gpus) == 1
    g = gpus[0]
    assert (g.host, g.gpu, g.uuid) == (
        "gpu-node-1",
        "0",
        "GPU-8c16e996-bd76-aa91-17e7-b48bcd0208ba",
    )
    assert (g.util, g.fb_used_mib, g.power_w, g.temp_c) == (0, 1057, 23.528, 41)
    assert g.memory_percent == pytest.approx(100 * 1057 / (1057 + 7064))


def test_dcgm_parser_on_recorded_a100_mig_response() -> None:
    gpus = dcgm.parse((DATA / "dcgm_exporter_a100_mig_recorded.txt").read_text(), "fallback")
    # The MIG instance's series (GPU_I_ID) do not create a second GPU.
    assert len(gpus) == 1
    g = gpus[0]
    assert g.host == "ub20-a100-k8s"  # the exporter's Hostname label wins over the URL host
    assert (g.fb_used_mib, g.power_w, g.temp_c) == (4845, 409.692, 61)
    assert g.util is None  # this exporter configuration did not export DCGM_FI_DEV_GPU_UTIL


def test_promql_of_the_page_is_documented() -> None:
    doc = (ROOT / "docs/capacity.md").read_text()
    selector = prom.Selector(
        target='instance="vllm-fast-0:8000"',
        sel='instance="vllm-fast-0:8000",model_name="qwen2.5-7b"',
    )
    for metric in prom.PROMQL:
        assert prom.expr(metric, selector, "5m") in doc, metric
    assert prom.ITL_MEAN.format(sel=selector.sel, w="5m") in doc


def test_grafana_dashboard_has_the_page_panels() -> None:
    board = json.loads((ROOT / "deploy/grafana/opsdesk-llm-cluster.json").read_text())
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p.get("targets", []))
    page_metrics = set(re.findall(r"vllm:[a-z_]+", " ".join(prom.PROMQL.values())))
    for metric in page_metrics | set(dcgm.FIELDS) - {"DCGM_FI_DEV_FB_FREE"}:
        assert metric in exprs, metric
    assert "up{" in exprs
