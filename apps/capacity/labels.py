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
