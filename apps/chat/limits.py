"""Per-user limits: answers streaming at once, and messages per minute.

Counted in Redis so that every ASGI worker sees the same numbers. A stream slot expires on
its own if the process holding it dies (the generator refreshes it while it runs), so a
crash never locks a user out for longer than SLOT_TTL seconds. Without REDIS_URL (a laptop,
one process) the counts live in this process.
"""

from __future__ import annotations

import asyncio
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
_local_rate: dict[tuple[int, int], int] = {}


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
    """Count one message against the per-minute limit (fixed one-minute windows)."""
    now = time.time()
    window = int(now // 60)
    retry = 60 - int(now % 60)
    limit = settings.CHAT_MESSAGES_PER_MINUTE
    client = _redis()
    if client is None:
        count = _local_rate.get((user_id, window), 0) + 1
        _local_rate[(user_id, window)] = count
        for old in [k for k in _local_rate if k[1] < window]:
            del _local_rate[old]
    else:
        key = f"{_prefix()}:chat:rate:{user_id}:{window}"
        async with client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = await pipe.execute()
    return Verdict(count <= limit, 0 if count <= limit else retry)
