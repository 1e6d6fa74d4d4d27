"""Translated names of planner outputs and limits (the planner itself stays language-free)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

FIGURE_LABELS = {
    "weights_bytes": _("Weights"),
    "kv_bytes_per_token": _("KV cache per token"),
    "kv_bytes_per_request": _("KV cache per request"),
    "kv_capacity_bytes_per_gpu": _("KV cache space per GPU"),
    "max_concurrent_sequences": _("Concurrent sequences that fit per replica"),
    "experts_touched": _("Experts read per layer per step (expected)"),
    "step_s": _("Decode step"),
    "per_user_tokens_per_s": _("Tokens/s per user"),
    "total_tokens_per_s": _("Tokens/s in total"),
    "ttft_s": _("Time to first token"),
    "replicas": _("Replicas"),
    "servers": _("Servers, with the spare"),
    "power_w": _("Power (board power)"),
    "cost": _("Hardware cost"),
}

LIMIT_LABELS = {
    "memory": _("memory"),
    "bandwidth": _("memory bandwidth"),
    "compute": _("compute"),
}

ERROR_TEXTS = {
    "required": _("%(name)s is required."),
    "whole": _("%(name)s must be a whole number."),
    "positive": _("%(name)s must be positive."),
    "not_object": _("Paste the model's configuration as a JSON object."),
    "experts_pair": _("Give both num_experts and experts_per_token, or neither."),
    "experts_exceed": _("experts_per_token cannot exceed num_experts."),
    "active_exceeds": _("params_active cannot exceed params_total."),
    "moe_active": _("A mixture of experts has fewer active than total parameters."),
    "heads_multiple": _("num_attention_heads must be a multiple of num_key_value_heads."),
    "gpu_positive": _("Custom GPU: %(name)s must be positive."),
    "tp_heads": _(
        "Tensor-parallel size %(tp)s does not divide the model's %(heads)s attention heads."
    ),
    "tp_server": _("Tensor-parallel size cannot exceed the GPUs per server."),
}


def error_text(exc: Exception) -> str:
    """A planner or catalog error in the reader's language (its English message otherwise)."""
    template = ERROR_TEXTS.get(getattr(exc, "code", ""))
    return str(template % getattr(exc, "params", {})) if template else str(exc)
