"""The relay's one reading of channels_redis' own storage, against a real Redis: which sockets
of a group belong to other processes. A channels_redis upgrade that stores groups otherwise
fails here first."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from apps.inference import relay


def layer() -> RedisChannelLayer:
    """A channel layer of its own, as a separate worker process has (its own client prefix)."""
    return RedisChannelLayer(hosts=[settings.REDIS_URL], prefix=f"test-relay-{uuid.uuid4().hex}")


async def test_remote_members_are_the_other_processes_channels_of_the_group() -> None:
    here = layer()
    there = RedisChannelLayer(hosts=[settings.REDIS_URL], prefix=here.prefix)
    group = "answers.test"
    mine, theirs = await here.new_channel(), await there.new_channel()
    assert mine.split("!")[0] != theirs.split("!")[0]  # two processes, two client prefixes
    await here.group_add(group, mine)
    await there.group_add(group, theirs)
    try:
        assert await relay.remote_members(here, group) == {theirs}
        assert await relay.remote_members(there, group) == {mine}
        await there.group_discard(group, theirs)
        assert await relay.remote_members(here, group) == set()
        # A frame sent to a remote member by name arrives as the relay sends it.
        await here.send(theirs, {"type": relay.RELAY, "frame": '{"type":"ping"}'})
        assert (await there.receive(theirs))["frame"] == '{"type":"ping"}'
    finally:
        await here.flush()
        await here.close_pools()
        await there.close_pools()


async def test_the_in_memory_layer_of_make_run_has_no_remote_members() -> None:
    from channels.layers import InMemoryChannelLayer

    memory = InMemoryChannelLayer()
    await memory.group_add("answers.test", await memory.new_channel())
    assert await relay.remote_members(memory, "answers.test") == set()


async def test_a_delta_cut_short_by_a_stop_is_sent_again_before_the_end() -> None:
    """A stop cancels the answer's task on whatever it awaits, a delta's send included: that
    delta is in the text that is saved, so it must still reach the socket (which drops a
    seq it already has). The socket here is this process's own deliver() hook, so that the
    stop lands exactly during a send; test_workers stops a real answer across two workers."""
    got: list[dict[str, Any]] = []
    sending = asyncio.Event()

    class Socket:
        async def deliver(self, event: dict[str, Any]) -> None:
            if not sending.is_set():
                sending.set()
                await asyncio.sleep(3600)  # the stop lands while the first delta goes out
            got.append(json.loads(event["frame"]))

    @dataclass
    class Answer(relay.LiveAnswer):
        @property
        def answer_id(self) -> int:
            return 7

        @property
        def group(self) -> str:
            return "answers.cut"

    answer = Answer()
    socket = Socket()
    relay.attach(answer.group, socket)
    try:
        pushed = asyncio.create_task(answer.push("Check the pod's events"))
        await sending.wait()
        pushed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pushed
        await answer.relay()  # what the answer's end sends before its done frame
    finally:
        relay.detach(answer.group, socket)
    assert [(f["seq"], f["text"]) for f in got] == [(1, "Check the pod's events")]
    assert answer.text == "Check the pod's events"
