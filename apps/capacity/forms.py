"""The planner form: GPU and cluster choices shared by both tiers, and one model per tier."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.capacity import catalog
from apps.capacity.labels import error_text
from apps.capacity.replica import Setup, Workload

TIERS = ("fast", "heavy")
TIER_LABELS = {"fast": _("Fast tier"), "heavy": _("Heavy tier")}
TIER_DEFAULTS = {
    "fast": {"model": "mistral-7b", "weights": "awq", "users": 10, "tp": 1},
    "heavy": {"model": "mixtral-8x7b", "weights": "awq", "users": 10, "tp": 2},
}
CUSTOM = "custom"
HA_CHOICES = [("0", _("none")), ("1", _("N+1")), ("2", _("N+2"))]
WEIGHT_CHOICES = [
    ("bf16", "bf16"),
    ("fp16", "fp16"),
    ("fp8", "fp8"),
    ("awq", "AWQ int4"),
    ("gptq", "GPTQ int4"),
]
KV_CHOICES = [("auto", _("auto (model dtype)")), ("bf16", "bf16"), ("fp16", "fp16"), ("fp8", "fp8")]
TP_CHOICES = [(str(n), str(n)) for n in (1, 2, 4, 8)]
CUSTOM_MODEL_HELP = _(
    "A JSON object with the fields of the model's config.json: num_hidden_layers, hidden_size, "
    "num_attention_heads, num_key_value_heads, head_dim, params_total, params_active "
    "(and num_experts, experts_per_token for a mixture of experts; vocab_size for quantized "
    "sizes)."
)


def _model_choices() -> list[tuple[str, Any]]:
    return [(m.key, m.name) for m in catalog.llm_models()] + [(CUSTOM, _("Custom model…"))]


def _gpu_choices() -> list[tuple[str, Any]]:
    return [(g.key, g.name) for g in catalog.GPUS.values()] + [(CUSTOM, _("Custom GPU…"))]


@dataclass
class TierInput:
    tier: str
    model: catalog.ModelSpec
    workload: Workload
    setup: Setup


class PlannerForm(forms.Form):
    gpu = forms.ChoiceField(label=_("GPU"), choices=_gpu_choices, initial="l40s")
    gpu_price = forms.FloatField(
        label=_("GPU price, USD"), required=False, min_value=0, max_value=1e7
    )
    compare = forms.MultipleChoiceField(
        label=_("Compare with"),
        required=False,
        choices=lambda: [(g.key, g.name) for g in catalog.GPUS.values()],
        widget=forms.CheckboxSelectMultiple,
    )
    gpus_per_server = forms.IntegerField(
        label=_("GPUs per server"), initial=8, min_value=1, max_value=16
    )
    kv_dtype = forms.ChoiceField(label=_("KV cache dtype"), choices=KV_CHOICES, initial="auto")
    gpu_memory_utilization = forms.FloatField(
        label=_("GPU memory utilisation"), initial=0.9, min_value=0.1, max_value=1
    )
    reserve_gib = forms.FloatField(
        label=_("Activation reserve per GPU, GiB"), initial=2.0, min_value=0, max_value=64
    )
    bandwidth_efficiency = forms.FloatField(
        label=_("Memory-bandwidth efficiency"), initial=0.8, min_value=0.05, max_value=1
    )
    step_overhead_ms = forms.FloatField(
        label=_("Overhead per decode step, ms"), initial=1.0, min_value=0, max_value=100
    )
    mfu = forms.FloatField(label=_("Prefill MFU"), initial=0.5, min_value=0.05, max_value=1)
    ha = forms.ChoiceField(label=_("HA policy"), choices=HA_CHOICES, initial="1")
    server_price = forms.FloatField(
        label=_("Server price without GPUs, USD"), initial=15000, min_value=0, max_value=1e7
    )
    server_power_w = forms.FloatField(
        label=_("Server power without GPUs, W"), initial=800, min_value=0, max_value=20000
    )
    # A custom GPU, used when gpu == "custom".
    custom_gpu_name = forms.CharField(label=_("Name"), required=False, max_length=80)
    custom_gpu_memory_gb = forms.FloatField(
        label=_("Memory, GiB"), required=False, min_value=1, max_value=4096
    )
    custom_gpu_bandwidth_gbs = forms.FloatField(
        label=_("Memory bandwidth, GB/s"), required=False, min_value=1, max_value=100000
    )
    custom_gpu_bf16_tflops = forms.FloatField(
        label=_("Dense BF16 TFLOPS"), required=False, min_value=0.1, max_value=100000
    )
    custom_gpu_fp8_tflops = forms.FloatField(
        label=_("Dense FP8 TFLOPS (0 if none)"), required=False, min_value=0, max_value=100000
    )
    custom_gpu_power_w = forms.FloatField(
        label=_("Power, W"), required=False, min_value=0, max_value=5000
    )
    custom_gpu_nvlink = forms.BooleanField(label=_("NVLink between GPUs"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for tier in TIERS:
            d = TIER_DEFAULTS[tier]
            self.fields[f"{tier}_on"] = forms.BooleanField(
                label=_("Plan this tier"), required=False, initial=True
            )
            self.fields[f"{tier}_model"] = forms.ChoiceField(
                label=_("Model"), choices=_model_choices, initial=d["model"]
            )
            self.fields[f"{tier}_custom"] = forms.CharField(
                label=_("Custom model (config JSON)"),
                required=False,
                max_length=4000,
                help_text=CUSTOM_MODEL_HELP,
                widget=forms.Textarea(attrs={"rows": 4}),
            )
            self.fields[f"{tier}_weights"] = forms.ChoiceField(
                label=_("Weights"), choices=WEIGHT_CHOICES, initial=d["weights"]
            )
            self.fields[f"{tier}_tp"] = forms.TypedChoiceField(
                label=_("Tensor parallel"), choices=TP_CHOICES, coerce=int, initial=str(d["tp"])
            )
            self.fields[f"{tier}_users"] = forms.IntegerField(
                label=_("Concurrent users"), initial=d["users"], min_value=1, max_value=100000
            )
            self.fields[f"{tier}_prompt"] = forms.IntegerField(
                label=_("Prompt tokens"), initial=3584, min_value=1, max_value=1_000_000
            )
            self.fields[f"{tier}_output"] = forms.IntegerField(
                label=_("Output tokens"), initial=512, min_value=1, max_value=1_000_000
            )
            self.fields[f"{tier}_tps"] = forms.FloatField(
                label=_("Target tokens/s per user"), initial=100, min_value=0.1, max_value=10000
            )
            self.fields[f"{tier}_ttft"] = forms.FloatField(
                label=_("Target time to first token, s"), initial=2.0, min_value=0.01, max_value=600
            )

    @classmethod
    def with_defaults(cls, data: Any) -> PlannerForm:
        """Bound to the query string, with every field left out at its initial value, so the
        first visit (and a shortened link) shows a plan instead of "required" errors. An
        unticked checkbox is absent from a submitted form, so booleans default only on the
        first visit."""
        form = cls()
        first_visit = not data
        merged: dict[str, Any] = {}
        for name, field in form.fields.items():
            initial = form.get_initial_for_field(field, name)
            if isinstance(field, forms.BooleanField):
                if first_visit and initial:
                    merged[name] = "on"
            elif initial is not None:
                merged[name] = initial
        return cls(data={**merged, **_plain(data)} if data else merged)

    def hardware_fields(self) -> list[forms.BoundField]:
        names = ("gpu", "gpu_price", "gpus_per_server", "ha", "server_price", "server_power_w")
        return [self[name] for name in names]

    def serving_fields(self) -> list[forms.BoundField]:
        names = (
            "kv_dtype",
            "gpu_memory_utilization",
            "reserve_gib",
            "bandwidth_efficiency",
            "step_overhead_ms",
            "mfu",
        )
        return [self[name] for name in names]

    def fast_fields(self) -> list[forms.BoundField]:
        return self.tier_fields("fast")

    def heavy_fields(self) -> list[forms.BoundField]:
        return self.tier_fields("heavy")

    def tier_fields(self, tier: str) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(f"{tier}_")]

    def gpu_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("custom_gpu_")]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("gpu") == CUSTOM:
            for name in (
                "custom_gpu_memory_gb",
                "custom_gpu_bandwidth_gbs",
                "custom_gpu_bf16_tflops",
            ):
                if data.get(name) in (None, ""):
                    self.add_error(name, _("Required for a custom GPU."))
        for tier in TIERS:
            if data.get(f"{tier}_on") and data.get(f"{tier}_model") == CUSTOM:
                raw = data.get(f"{tier}_custom") or ""
                try:
                    data[f"{tier}_spec"] = catalog.custom_model(json.loads(raw or "null"))
                except json.JSONDecodeError as exc:
                    self.add_error(f"{tier}_custom", _("Not valid JSON: %s") % exc)
                except catalog.CatalogError as exc:
                    self.add_error(f"{tier}_custom", error_text(exc))
        if not any(data.get(f"{tier}_on") for tier in TIERS):
            raise forms.ValidationError(_("Plan at least one tier."))
        return data

    # --- what the planner takes ------------------------------------------------------------
    def gpu_spec(self, key: str | None = None) -> catalog.GPUSpec:
        d = self.cleaned_data
        key = key or d["gpu"]
        if key == CUSTOM:
            return catalog.custom_gpu(
                name=d.get("custom_gpu_name") or "custom GPU",
                memory_gb=d["custom_gpu_memory_gb"],
                bandwidth_gbs=d["custom_gpu_bandwidth_gbs"],
                bf16_tflops=d["custom_gpu_bf16_tflops"],
                fp8_tflops=d.get("custom_gpu_fp8_tflops") or 0,
                power_w=d.get("custom_gpu_power_w") or 0,
                price=d.get("gpu_price") or 0,
                interconnect="nvlink" if d.get("custom_gpu_nvlink") else "pcie",
            )
        spec = catalog.gpu(key)
        # The edited price applies to the GPU being planned, not to the ones compared with it.
        return catalog.with_price(spec, d.get("gpu_price") if key == d["gpu"] else None)

    def tiers(self) -> list[TierInput]:
        d = self.cleaned_data
        out = []
        for tier in TIERS:
            if not d.get(f"{tier}_on"):
                continue
            model = d.get(f"{tier}_spec") or catalog.model(d[f"{tier}_model"])
            workload = Workload(
                users=d[f"{tier}_users"],
                prompt_tokens=d[f"{tier}_prompt"],
                output_tokens=d[f"{tier}_output"],
                target_tps=d[f"{tier}_tps"],
                target_ttft_s=d[f"{tier}_ttft"],
            )
            setup = Setup(
                weights=d[f"{tier}_weights"],
                kv_dtype=d["kv_dtype"],
                tp=d[f"{tier}_tp"],
                gpus_per_server=d["gpus_per_server"],
                gpu_memory_utilization=d["gpu_memory_utilization"],
                reserve_gib=d["reserve_gib"],
                bandwidth_efficiency=d["bandwidth_efficiency"],
                step_overhead_ms=d["step_overhead_ms"],
                mfu=d["mfu"],
                spare_servers=int(d["ha"]),
                server_price=d["server_price"],
                server_power_w=d["server_power_w"],
            )
            out.append(TierInput(tier, model, workload, setup))
        return out


def _plain(data: Any) -> dict[str, Any]:
    """A QueryDict as a plain dict, keeping lists for multi-valued fields."""
    out: dict[str, Any] = {}
    for key in data:
        values = data.getlist(key) if hasattr(data, "getlist") else [data[key]]
        out[key] = values if key == "compare" else values[-1]
    return out
