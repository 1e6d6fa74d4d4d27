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

_ACQUIRE = """
local key = KEYS[1]
local now, limit, expires = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) >= limit then return 0 end
redis.call('ZADD', key, expires, ARGV[3])
redis.call('EXPIRE', key, tonumber(ARGV[5]))
return 1
"""

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
_local_slots: dict[int, dict[str, float]] = {}
_local_rate: dict[int, list[float]] = {}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
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


async def acquire_stream(user_id: int) -> str | None:
    """A slot token if the user may start another answer now, else None."""
    token = uuid.uuid4().hex
    now = time.time()
    limit = settings.CHAT_MAX_CONCURRENT_STREAMS
    client = _redis()
    if client is None:
        slots = _local_slots.setdefault(user_id, {})
        for key, expires in list(slots.items()):
            if expires <= now:
                del slots[key]
        if len(slots) >= limit:
            return None
        slots[token] = now + SLOT_TTL
        return token
    key = f"{_prefix()}:chat:streams:{user_id}"
    ok = await client.eval(_ACQUIRE, 1, key, now, limit, token, now + SLOT_TTL, SLOT_TTL * 2)
    return token if ok else None


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


async def count_message(user_id: int) -> Verdict:
    """Count one message against the per-minute limit over a sliding 60-second window.

    Fixed per-minute buckets would let a user send twice the limit across a minute boundary;
    the same sorted-set admission as stream slots (members expire 60 s after they were sent)
    keeps the limit true for any 60 seconds.
    """
    now = time.time()
    limit = settings.CHAT_MESSAGES_PER_MINUTE
    client = _redis()
    if client is None:
        sent = [t for t in _local_rate.get(user_id, []) if t > now]
        allowed = len(sent) < limit
        if allowed:
            sent.append(now + 60)
        _local_rate[user_id] = sent
        oldest = min(sent) if sent else now
    else:
        key = f"{_prefix()}:chat:rate:{user_id}"
        allowed = bool(
            await client.eval(_ACQUIRE, 1, key, now, limit, uuid.uuid4().hex, now + 60, 120)
        )
        first = await client.zrange(key, 0, 0, withscores=True) if not allowed else []
        oldest = first[0][1] if first else now
    return Verdict(allowed, 0 if allowed else max(1, math.ceil(oldest - now)))
