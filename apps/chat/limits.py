"""Per-user limits: answers streaming at once, and messages per minute.

Counted in Redis so that every ASGI worker sees the same numbers. A stream slot expires on
its own if the process holding it dies (the generator refreshes it while it runs), so a
crash never locks a user out for longer than SLOT_TTL seconds. Without REDIS_URL (a laptop,
one process) the counts live in this process.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

from django.conf import settings

SLOT_TTL = 60
SLOT_REFRESH = 15

# One round trip admits a message: first the sliding per-minute window (members expire 60 s
# after they were sent), then a stream slot (members expire unless refreshed). Returns
# {1} when admitted, {0, oldest} when the minute's limit is reached, {2} when no slot is free.
# A message refused for want of a slot still counts against the minute, as a retry would.
_ADMIT = """
local rate, streams = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', rate, '-inf', now)
if redis.call('ZCARD', rate) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', rate, 0, 0, 'WITHSCORES')
  return {0, oldest[2]}
end
redis.call('ZADD', rate, now + 60, ARGV[3])
redis.call('EXPIRE', rate, 120)
redis.call('ZREMRANGEBYSCORE', streams, '-inf', now)
if redis.call('ZCARD', streams) >= tonumber(ARGV[4]) then return {2} end
redis.call('ZADD', streams, now + tonumber(ARGV[5]), ARGV[3])
redis.call('EXPIRE', streams, tonumber(ARGV[5]) * 2)
return {1}
"""

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
_local_slots: dict[int, dict[str, float]] = {}
_local_rate: dict[int, list[float]] = {}


@dataclass(frozen=True)
class Admission:
    """Whether a message may start an answer now: `slot` if so, else which limit refused it."""

    slot: str | None
    refused: str = ""  # "rate" (messages per minute) or "streams" (answers at once)
    retry_after: int = 0


def _prefix() -> str:
    return str(settings.CACHES["default"].get("KEY_PREFIX") or "opsdesk")


def _redis() -> Any:
    """One client per event loop: redis.asyncio connections belong to the loop that made them."""
    if not settings.REDIS_URL:
        return None
    import redis.asyncio as aioredis

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
        _clients[loop] = client
    return client


async def admit(user_id: int) -> Admission:
    """Count one message against the per-minute limit, then take a stream slot.

    Fixed per-minute buckets would let a user send twice the limit across a minute boundary;
    the sliding window keeps the limit true for any 60 seconds. One Redis round trip for
    both, as this sits on every answer's way to its first token."""
    token = uuid.uuid4().hex
    now = time.time()
    per_minute, at_once = settings.CHAT_MESSAGES_PER_MINUTE, settings.CHAT_MAX_CONCURRENT_STREAMS
    client = _redis()
    if client is None:
        return _admit_here(user_id, token, now, per_minute, at_once)
    rate, streams = f"{_prefix()}:chat:rate:{user_id}", f"{_prefix()}:chat:streams:{user_id}"
    verdict = await client.eval(_ADMIT, 2, rate, streams, now, per_minute, token, at_once, SLOT_TTL)
    if int(verdict[0]) == 0:
        oldest = float(verdict[1]) if len(verdict) > 1 else now + 60
        return Admission(None, "rate", max(1, math.ceil(oldest - now)))
    if int(verdict[0]) == 2:
        return Admission(None, "streams")
    return Admission(token)


def _admit_here(user_id: int, token: str, now: float, per_minute: int, at_once: int) -> Admission:
    sent = [t for t in _local_rate.get(user_id, []) if t > now]
    _local_rate[user_id] = sent
    if len(sent) >= per_minute:
        return Admission(None, "rate", max(1, math.ceil(min(sent) - now)))
    sent.append(now + 60)
    slots = _local_slots.setdefault(user_id, {})
    for key, expires in list(slots.items()):
        if expires <= now:
            del slots[key]
    if len(slots) >= at_once:
        return Admission(None, "streams")
    slots[token] = now + SLOT_TTL
    return Admission(token)


async def refresh_stream(user_id: int, token: str) -> None:
    expires = time.time() + SLOT_TTL
    client = _redis()
    if client is None:
        _local_slots.setdefault(user_id, {})[token] = expires
        return
    await client.zadd(f"{_prefix()}:chat:streams:{user_id}", {token: expires}, xx=True)


async def release_stream(user_id: int, token: str) -> None:
    client = _redis()
    if client is None:
        _local_slots.get(user_id, {}).pop(token, None)
        return
    await client.zrem(f"{_prefix()}:chat:streams:{user_id}", token)
