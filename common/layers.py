"""The Redis channel layer, made to ride out a Redis restart without a portal restart.

channels_redis raises from receive() when its connection breaks, and Channels' consumer loop
dies with it: every open websocket of the process closed at once when Redis restarted, and
sockets opened while it was gone failed their handshake on group_add. A restarted Redis
(no persistence, or a fail-over to an empty replica) also comes back without the groups, so
the sockets that survived would no longer get frames written by other workers.

This layer, used when REDIS_URL is set (settings.CHANNEL_LAYERS):
- receive() waits for Redis to answer again instead of raising, then carries on;
- group_add()/group_discard() remember this process's memberships and never fail a socket
  for want of Redis (frames from answers written in this process reach their sockets
  directly, apps/inference/relay.py);
- after an outage, or when Redis's run id changes (a restart too quick to be seen as one),
  the memberships are written again.
send() and group_send() still raise: their callers decide (relay.emit logs and goes on).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any

from channels_redis.core import RedisChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
RETRY_SECONDS = (0.2, 0.5, 1.0)  # between tries while Redis is gone, then 1 s each
WATCH_SECONDS = 2.0  # how often a process with sockets checks that Redis is the same one


class ResilientRedisChannelLayer(RedisChannelLayer):
    """channels_redis' layer that survives Redis going away and coming back (module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.memberships: dict[str, set[str]] = {}
        self.run_ids: dict[int, str] = {}
        self.down_since: float | None = None
        self.watcher: asyncio.Task[None] | None = None
        self.recovering: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    # --- receiving --------------------------------------------------------------------------

    async def receive(self, channel: str) -> Any:
        tries = 0
        while True:
            try:
                return await super().receive(channel)
            except UNREACHABLE as exc:
                self._went_down(exc)
            delay = RETRY_SECONDS[min(tries, len(RETRY_SECONDS) - 1)]
            tries += 1
            await asyncio.sleep(delay)
            await self._recover()

    def _went_down(self, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("Redis of the channel layer unreachable (%s); waiting for it", exc)

    async def _recover(self) -> bool:
        """Once Redis answers again, write this process's memberships back (once per outage,
        whichever receiver gets here first). False while it is still unreachable."""
        loop = asyncio.get_running_loop()
        lock = self.recovering.get(loop)
        if lock is None:
            lock = self.recovering[loop] = asyncio.Lock()
        async with lock:
            try:
                changed = await self._restarted()
                if self.down_since is None and not changed:
                    return True
                await self._rejoin()
            except UNREACHABLE as exc:
                self._went_down(exc)
                return False
            if self.down_since is not None:
                gone = time.monotonic() - self.down_since
                log.warning("Redis of the channel layer is back after %.1f s", gone)
            self.down_since = None
            return True

    async def _restarted(self) -> bool:
        """Whether any host's run id differs from the one seen last (a restart)."""
        changed = False
        for index in range(self.ring_size):
            info = await self.connection(index).info("server")
            run_id = str(info.get("run_id", ""))
            if self.run_ids.get(index, run_id) != run_id:
                changed = True
            self.run_ids[index] = run_id
        return changed

    async def _rejoin(self) -> None:
        now = time.time()
        for group, channels in list(self.memberships.items()):
            if not channels:
                continue
            connection = self.connection(self.consistent_hash(group))
            key = self._group_key(group)
            await connection.zadd(key, dict.fromkeys(channels, now))
            await connection.expire(key, self.group_expiry)

    # --- groups -----------------------------------------------------------------------------

    async def group_add(self, group: str, channel: str) -> None:
        self.memberships.setdefault(group, set()).add(channel)
        self._watch()
        try:
            await super().group_add(group, channel)
        except UNREACHABLE as exc:
            # Written when Redis is back (_recover); local frames reach the socket meanwhile.
            self._went_down(exc)

    async def group_discard(self, group: str, channel: str) -> None:
        members = self.memberships.get(group)
        if members is not None:
            members.discard(channel)
            if not members:
                del self.memberships[group]
        try:
            await super().group_discard(group, channel)
        except UNREACHABLE as exc:
            # A channel left behind in a group only receives what nobody reads; it expires.
            log.info("channel %s not removed from %s: %s", channel, group, exc)

    def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        task = self.watcher
        if task is None or task.done() or task.get_loop() is not loop:
            self.watcher = loop.create_task(self._watch_forever(), name="channel-layer-watch")

    async def _watch_forever(self) -> None:
        """Notice a Redis restart even when no receive() failed (it was quick enough)."""
        while self.memberships:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                await self._recover()
            except Exception:
                log.warning("checking the channel layer's Redis failed", exc_info=True)
