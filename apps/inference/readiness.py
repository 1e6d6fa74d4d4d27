"""The "llm" readiness check behind /readyz."""

from __future__ import annotations

from django.db import connection

from common.health import CheckResult


def check() -> CheckResult:
    """OK while at least one enabled backend is healthy; the detail names every backend.

    Reads what the poller last saw. When that is missing or stale (no poller running in
    any process), it polls once itself, with timeouts that fit the probe's budget.
    """
    from apps.inference import poller, state

    try:
        states = state.backend_states(enabled_only=True)
        if not states:
            return CheckResult(True, "no LLM backend configured")
        if any(not s.known for s in states):
            states = [s for s in poller.poll_now() if s.enabled]
        parts = [
            f"{s.name}: ok" if s.healthy else f"{s.name}: failing ({s.reason})" for s in states
        ]
        return CheckResult(any(s.healthy for s in states), "; ".join(parts)[:1000])
    finally:
        # Runs in the probe's pool thread: leave no connection behind it.
        connection.close()
