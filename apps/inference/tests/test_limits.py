"""The per-user stream slot that every answer for a signed-in user is written in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from apps.inference import client, limits
from apps.inference.models import LLMCall

PROMPT = [{"role": "user", "content": "Continue: one, two, three,"}]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["redis", "in-process"])
def where(request: pytest.FixtureRequest, settings: Any) -> str:
    """Both ways of counting: Redis (several workers) and this process (`make run`)."""
    if request.param == "in-process":
        settings.REDIS_URL = ""
    cache.clear()
    limits._local_slots.clear()
    limits._local_rate.clear()
    return str(request.param)


async def test_slots_are_counted_refused_and_given_back(where: str, settings: Any) -> None:
    settings.LLM_USER_MAX_STREAMS = 2
    user = await User.objects.acreate(username=f"slots-{where}")
    other = await User.objects.acreate(username=f"other-{where}")
    first = await limits.take(user)
    async with limits.slot(user) as second:
        assert (await limits.usage(user)).streams == 2
        with pytest.raises(limits.Refused) as refused:
            await limits.take(user)
        assert refused.value.limit == "streams" and refused.value.allowed == 2
        assert refused.value.retry_after > 0
        # Another user's answers are not counted against this one.
        async with limits.slot(other):
            pass
        assert not second.released
    assert second.released and (await limits.usage(user)).streams == 1
    await first.release()
    await first.release()  # twice is harmless
    assert (await limits.usage(user)).streams == 0


async def test_the_minute_limit_counts_refused_requests_too(where: str, settings: Any) -> None:
    settings.LLM_USER_REQUESTS_PER_MINUTE = 2
    settings.LLM_USER_MAX_STREAMS = 1
    user = await User.objects.acreate(username=f"rate-{where}")
    held = await limits.take(user)
    with pytest.raises(limits.Refused) as busy:
        await limits.take(user)
    assert busy.value.limit == "streams"
    await held.release()
    with pytest.raises(limits.Refused) as limited:
        await limits.take(user)
    assert limited.value.limit == "rate" and 1 <= limited.value.retry_after <= 60


async def test_a_held_slot_is_kept_alive_and_expires_when_its_holder_dies(
    where: str, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.LLM_USER_MAX_STREAMS = 1
    monkeypatch.setattr(limits, "SLOT_TTL", 1)
    monkeypatch.setattr(limits, "SLOT_REFRESH", 0.2)
    user = await User.objects.acreate(username=f"ttl-{where}")
    async with limits.slot(user):
        await asyncio.sleep(1.5)  # past the TTL: only the refreshes keep it
        assert (await limits.usage(user)).streams == 1
    dead = await limits.take(user)  # never released nor refreshed, like a killed process
    assert dead._keeper is None
    await asyncio.sleep(1.2)
    async with limits.slot(user):
        assert (await limits.usage(user)).streams == 1


async def test_stream_refuses_a_signed_in_user_without_a_slot(vllm: str) -> None:
    user = await User.objects.acreate(username="no-slot")
    events = client.stream(PROMPT, tier="fast", user=user, max_tokens=4)
    with pytest.raises(ValueError, match="stream slots"):
        await anext(events)
    assert not await LLMCall.objects.aexists()
    # With the slot the call is made, and recorded as that user's.
    async with limits.slot(user) as held:
        result = await client.complete(PROMPT, tier="fast", slot=held, max_tokens=4)
    assert result.outcome == "complete"
    call = await LLMCall.objects.aget()
    assert call.user_id == user.pk
