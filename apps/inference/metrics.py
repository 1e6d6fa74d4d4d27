"""Prometheus metrics of LLM calls made through the gateway (exported on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CALLS = Counter(
    "opsdesk_llm_calls_total", "LLM calls by backend and outcome", ["backend", "outcome"]
)
TTFT = Histogram(
    "opsdesk_llm_time_to_first_token_seconds",
    "Time from the call to the first token, as the portal sees it",
    ["model"],
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 40),
)
TOKENS_PER_S = Histogram(
    "opsdesk_llm_tokens_per_second",
    "Generation speed of one call after its first token",
    ["model"],
    buckets=(1, 2, 5, 10, 15, 20, 30, 40, 60, 80, 100, 150, 200),
)
TOKENS = Counter("opsdesk_llm_tokens_total", "Tokens through the gateway", ["backend", "kind"])
GUARDED = Counter(
    "opsdesk_llm_guarded_answers_total",
    "Grounded answers checked for prompt echoes, by purpose and verdict: ok, cut (shown up "
    "to where the echo began), withheld (replaced by a note) or empty; 'withheld (asked "
    "again)' and 'empty (asked again)' count answers nobody saw, followed by a second try",
    ["purpose", "verdict"],
)
FAILOVERS = Counter(
    "opsdesk_llm_failovers_total", "Attempts abandoned for the next backend", ["backend"]
)
IN_FLIGHT = Gauge("opsdesk_llm_streams_in_flight", "Calls currently streaming", ["backend"])
BACKEND_UP = Gauge(
    "opsdesk_llm_backend_healthy", "1 if the last poll found the backend healthy", ["backend"]
)
