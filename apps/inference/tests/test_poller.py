"""The poller against the real dev vLLM server and a closed port; /readyz; the lifespan."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from apps.inference import client, poller, routing, state
from apps.inference.backends import sync_from_settings
from apps.inference.models import Backend, LLMCall

PROMPT = [{"role": "user", "content": "Continue the list: Monday, Tuesday, Wednesday,"}]


def _by_name(states: list[state.BackendState]) -> dict[str, state.BackendState]:
    return {s.name: s for s in states}


@pytest.mark.django_db
def test_poll_reads_health_and_vllm_metrics(vllm: str) -> None:
    sync_from_settings()
    polled = _by_name(poller.poll_now())
    live, dead = polled["cpu-live"], polled["dead-fast"]
    assert live.healthy and live.reason == "" and live.checked_at is not None
    assert live.running is not None and live.running >= 0
    assert live.waiting is not None and live.waiting >= 0
    assert live.kv_cache_usage is not None and 0 <= live.kv_cache_usage <= 1
    assert not dead.healthy
    assert dead.reason.startswith("health check failed: GET /health: connection failed")
    assert "refused" in dead.reason.lower()
    # Every process reads the same state from the shared cache.
    again = _by_name(state.backend_states())
    assert again["dead-fast"].reason == dead.reason and again["cpu-live"].healthy


@pytest.mark.django_db
def test_a_model_the_server_does_not_serve_is_unhealthy(vllm: str) -> None:
    sync_from_settings()
    Backend.objects.create(
        name="wrong-model", url=f"{vllm}/v1", model="llama-70b", tier="heavy", enabled=False
    )
    wrong = _by_name(poller.poll_now())["wrong-model"]
    assert not wrong.healthy and wrong.problem == "model"
    assert "'llama-70b' is not served (serves gemma-3-270m)" in wrong.reason


@pytest.mark.django_db(transaction=True)
async def test_series_and_tokens_per_second_from_counter_deltas(vllm: str) -> None:
    await poller.poll_once()
    result = await client.complete(PROMPT, tier="fast", max_tokens=32)
    assert result.outcome == "complete" and result.completion_tokens > 1
    await asyncio.sleep(1)
    states = _by_name(await poller.poll_once())
    assert states["cpu-live"].tokens_per_s_1m is not None
    assert states["cpu-live"].tokens_per_s_1m > 0
    tokens = await asyncio.to_thread(state.series, "cpu-live", "generation_tokens_per_s", 5)
    assert tokens and tokens[-1][1] > 0
    ttft = await asyncio.to_thread(state.series, "cpu-live", "ttft_p95", 5)
    itl = await asyncio.to_thread(state.series, "cpu-live", "itl_p50", 5)
    assert ttft and 0 < ttft[-1][1] < 30 and itl and itl[-1][1] > 0
    running = await asyncio.to_thread(state.series, "cpu-live", "running", 5)
    assert len(running) == 2
    with pytest.raises(ValueError, match="unknown series metric"):
        state.series("cpu-live", "gpu_temperature")


@pytest.mark.django_db(transaction=True)
async def test_fallback_after_the_poller_marked_the_tier_dead(vllm: str) -> None:
    await sync_to_async(sync_from_settings)()
    await Backend.objects.filter(name="cpu-live").aupdate(enabled=False)
    await poller.poll_once()
    result = await client.complete(PROMPT, tier="fast", max_tokens=8)
    assert result.outcome == "complete" and result.fell_back
    assert result.backend == "cpu-heavy" and result.tier == "heavy"
    row = await LLMCall.objects.aget(pk=result.call_id or 0)
    # Known dead, so not even tried: no time lost on it.
    assert row.failed_attempts == []


# The probe reads the database from its own threads: the rows must be committed.
@pytest.mark.django_db(transaction=True)
def test_readyz_lists_each_backend(vllm: str, admin_client: Client) -> None:
    sync_from_settings()
    poller.poll_now()
    body = admin_client.get("/readyz").json()  # an admin sees each check's detail
    llm = body["checks"]["llm"]
    assert llm["ok"] is True and llm["required"] is True
    assert "cpu-live: ok" in llm["detail"] and "cpu-heavy: ok" in llm["detail"]
    assert (
        "dead-fast: failing (health check failed: GET /health: connection failed" in (llm["detail"])
    )


@pytest.mark.django_db(transaction=True)
def test_readyz_fails_when_no_enabled_backend_is_healthy(vllm: str, admin_client: Client) -> None:
    sync_from_settings()
    Backend.objects.exclude(name="dead-fast").update(enabled=False)
    # No poll has run: the check polls by itself rather than report nothing.
    response = admin_client.get("/readyz")
    assert response.status_code == 503
    llm = response.json()["checks"]["llm"]
    assert llm["ok"] is False and llm["detail"].startswith("dead-fast: failing (")


@pytest.mark.django_db(transaction=True)
async def test_lifespan_runs_the_poller_until_shutdown(vllm: str, settings: Any) -> None:
    from common.services import lifespan as application

    settings.LLM_POLL_INTERVAL = 0.5
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        outbox.append(message)

    server = asyncio.create_task(application({"type": "lifespan"}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and state.raw_state("dead-fast") is None:
        await asyncio.sleep(0.2)
    assert outbox == [{"type": "lifespan.startup.complete"}]
    assert state.raw_state("dead-fast") is not None, "the poller never polled"
    assert await Backend.objects.acount() == 3  # seeded from LLM_BACKENDS
    await inbox.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(server, timeout=10)
    assert outbox[-1] == {"type": "lifespan.shutdown.complete"}
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "llm-poller"]


@pytest.mark.django_db
def test_only_one_poller_holds_the_lease() -> None:
    assert poller._hold_lease("web-1", 10)
    assert poller._hold_lease("web-1", 10)  # renewal
    assert not poller._hold_lease("web-2", 10)


def test_quantile_interpolates_like_prometheus() -> None:
    buckets = [(0.1, 2.0), (0.5, 8.0), (1.0, 10.0), (math.inf, 10.0)]
    assert poller.quantile(buckets, 0.5) == pytest.approx(0.1 + 0.4 * (5 - 2) / 6)
    assert poller.quantile(buckets, 0.95) == pytest.approx(0.5 + 0.5 * (9.5 - 8) / 2)
    assert poller.quantile([(0.1, 0.0), (math.inf, 0.0)], 0.5) is None


@pytest.mark.django_db(transaction=True)
async def test_a_backend_disabled_while_a_poll_runs_stays_out_of_routing(
    vllm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A poll's reading becomes this process's routing view; an edit made while the poll was
    # probing must win over what the poll read before it.
    await sync_to_async(sync_from_settings)()
    probe = poller._probe
    edited: list[str] = []

    async def probe_while_an_admin_disables(http: Any, config: Any) -> Any:
        if not edited:
            row = await Backend.objects.aget(name="cpu-live")
            row.enabled = False
            await row.asave()  # as the admin console saves it
            edited.append(row.name)
        return await probe(http, config)

    monkeypatch.setattr(poller, "_probe", probe_while_an_admin_disables)
    polled = _by_name(await poller.poll_once())
    assert edited and polled["cpu-live"].healthy  # the poll read it while it was enabled
    candidates, _ = await routing.plan("fast")
    assert "cpu-live" not in [c.backend.name for c in candidates]
    result = await client.complete(PROMPT, tier="fast", max_tokens=4)
    assert result.backend == "cpu-heavy" and result.fell_back
