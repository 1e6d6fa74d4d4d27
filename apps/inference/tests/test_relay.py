"""The relay's one reading of channels_redis' own storage, against a real Redis: which sockets
of a group belong to other processes. A channels_redis upgrade that stores groups otherwise
fails here first."""

from __future__ import annotations

import uuid

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
