"""Per-user limits on model answers: answers streaming at once, and requests per minute.

Every caller of `client.stream` on behalf of a signed-in user (chat, the OpenAI-compatible
API, the search answer, the scenarios) holds one of the user's stream slots for as long as
its answer is written:

    async with limits.slot(user) as held:          # raises Refused when a limit says no
        async for event in client.stream(prompt, slot=held, ...):
            ...

or, when the answer outlives the code that admits it (the chat hands it to a task),
`held = await limits.take(user)` first and `async with held:` where the answer is written.

Counted in Redis so that every ASGI worker sees the same numbers. A slot expires on its own
if the process holding it dies (it is refreshed while held), so a crash never locks a user
out for longer than SLOT_TTL seconds. Without REDIS_URL (a laptop, one process) the counts
live in this process, and so they do while Redis cannot be reached (restarted, failed over):
each process then counts on its own, so a user may briefly get the limits once per process,
but answers go on instead of failing; the next request after Redis is back counts there again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth.models import User
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
SLOT_TTL = 60
SLOT_REFRESH = 15

# One round trip admits a request: first the sliding per-minute window (members expire 60 s
# after they were sent), then a stream slot (members expire unless refreshed). Returns
# {1} when admitted, {0, oldest} when the minute's limit is reached, {2} when no slot is free.
# A request refused for want of a slot still counts against the minute, as a retry would.
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


class Refused(Exception):
    """A limit refuses a new answer now: `limit` says which, `retry_after` when to retry
    (seconds; for "streams", when one of the user's answers may have finished)."""

    def __init__(self, limit: Literal["rate", "streams"], retry_after: int) -> None:
        super().__init__(f"{limit} limit reached; retry in {retry_after} s")
        self.limit: Literal["rate", "streams"] = limit
        self.retry_after = retry_after

    @property
    def allowed(self) -> int:
        """The limit's value, for messages ("at most N at once", "N a minute")."""
        return max_streams() if self.limit == "streams" else requests_per_minute()


def max_streams() -> int:
    return int(settings.LLM_USER_MAX_STREAMS)


def requests_per_minute() -> int:
    return int(settings.LLM_USER_REQUESTS_PER_MINUTE)


class Slot:
    """One of a user's stream slots, taken by take(). `async with` keeps it alive while the
    answer is written and gives it back at the end; release() is safe to call twice."""

    def __init__(self, user: User, token: str, here: bool = False) -> None:
        self.user = user
        self.user_id = int(user.pk)
        self.token = token
        self.here = here  # counted in this process (no Redis, or Redis unreachable)
        self.released = False
        self._keeper: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Slot:
        self.keep()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()

    def keep(self) -> None:
        """Refresh the slot in the background until release() (idempotent)."""
        if self._keeper is None and not self.released:
            self._keeper = asyncio.create_task(self._keep(), name="llm-slot-keeper")

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(SLOT_REFRESH)
            try:
                await _refresh(self.user_id, self.token, self.here)
            except Exception:
                log.warning("stream slot of user %s not refreshed", self.user_id, exc_info=True)

    async def release(self) -> None:
        if self.released:
            return
        self.released = True
        if self._keeper is not None:
            self._keeper.cancel()
            self._keeper = None
        try:
            await _release(self.user_id, self.token, self.here)
        except Exception:
            # The slot expires by itself within SLOT_TTL; the answer must not fail for it.
            log.warning("stream slot of user %s not released", self.user_id, exc_info=True)


async def take(user: User) -> Slot:
    """Count one request against the user's per-minute limit, then take a stream slot.

    Raises Refused when either limit says no. Fixed per-minute buckets would let a user send
    twice the limit across a minute boundary; the sliding window keeps the limit true for any
    60 seconds. One Redis round trip for both, as this sits on every answer's way to its
    first token."""
    token = uuid.uuid4().hex
    now = time.time()
    per_minute, at_once = requests_per_minute(), max_streams()
    client = _redis()
    if client is None:
        _admit_here(int(user.pk), token, now, per_minute, at_once)
        return Slot(user, token, here=True)
    rate, streams = _keys(int(user.pk))
    try:
        verdict = await client.eval(
            _ADMIT, 2, rate, streams, now, per_minute, token, at_once, SLOT_TTL
        )
    except UNREACHABLE as exc:
        log.warning("Redis unreachable for the answer limits (%s): counted in this process", exc)
        _admit_here(int(user.pk), token, now, per_minute, at_once)
        return Slot(user, token, here=True)
    if int(verdict[0]) == 0:
        oldest = float(verdict[1]) if len(verdict) > 1 else now + 60
        raise Refused("rate", max(1, math.ceil(oldest - now)))
    if int(verdict[0]) == 2:
        raise Refused("streams", 5)
    return Slot(user, token)


@asynccontextmanager
async def slot(user: User) -> AsyncIterator[Slot]:
    """Take one of the user's stream slots and hold it for the block (see the module)."""
    held = await take(user)
    async with held:
        yield held


def _prefix() -> str:
    return str(settings.CACHES["default"].get("KEY_PREFIX") or "opsdesk")


def _keys(user_id: int) -> tuple[str, str]:
    return f"{_prefix()}:llm:rate:{user_id}", f"{_prefix()}:llm:streams:{user_id}"


def _redis() -> Any:
    """One client per event loop: redis.asyncio connections belong to the loop that made them."""
    if not settings.REDIS_URL:
        return None
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        # Retried briefly: while Redis is gone a question falls back to this process's
        # counts at once instead of waiting out redis-py's default back-off (seconds).
        client = aioredis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=2,
            socket_timeout=2,
            retry=Retry(settings.REDIS_BACKOFF, 2),
        )
        _clients[loop] = client
    return client


def _admit_here(user_id: int, token: str, now: float, per_minute: int, at_once: int) -> None:
    sent = [t for t in _local_rate.get(user_id, []) if t > now]
    _local_rate[user_id] = sent
    if len(sent) >= per_minute:
        raise Refused("rate", max(1, math.ceil(min(sent) - now)))
    sent.append(now + 60)
    slots = _local_slots.setdefault(user_id, {})
    for key, expires in list(slots.items()):
        if expires <= now:
            del slots[key]
    if len(slots) >= at_once:
        raise Refused("streams", 5)
    slots[token] = now + SLOT_TTL


async def _refresh(user_id: int, token: str, here: bool) -> None:
    expires = time.time() + SLOT_TTL
    client = _redis()
    if client is None or here:
        _local_slots.setdefault(user_id, {})[token] = expires
        return
    await client.zadd(_keys(user_id)[1], {token: expires}, xx=True)


async def _release(user_id: int, token: str, here: bool) -> None:
    client = _redis()
    if client is None or here:
        _local_slots.get(user_id, {}).pop(token, None)
        return
    await client.zrem(_keys(user_id)[1], token)


@dataclass(frozen=True)
class Usage:
    """How many of the user's slots are taken now (for tests and the console)."""

    streams: int


async def usage(user: User) -> Usage:
    now = time.time()
    client = _redis()
    if client is None:
        slots = _local_slots.get(int(user.pk), {})
        return Usage(sum(1 for expires in slots.values() if expires > now))
    return Usage(int(await client.zcount(_keys(int(user.pk))[1], now, "+inf")))
