"""Push index job progress to the admin console's websocket (one group for all admins).

Jobs send from threads (a Celery worker, or under `make run` a thread of the web process).
The Redis layer takes a send from any thread. The in-memory layer's queues belong to the
event loop of the sockets that listen: a send from another thread's loop would not wake that
loop, so the frame would wait for its next unrelated wake-up. That send is handed to the
listening loop instead, which the consumer names when it joins the group.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from apps.knowledge.models import IndexJob

log = logging.getLogger(__name__)

GROUP = "knowledge.jobs"


class ProgressEvent(TypedDict):
    type: Literal["job.progress"]
    progress: dict[str, object]


_listening: asyncio.AbstractEventLoop | None = None


def listening_on(loop: asyncio.AbstractEventLoop) -> None:
    """The loop whose sockets joined GROUP (JobProgressConsumer.connect)."""
    global _listening
    _listening = loop


def _sent(future: concurrent.futures.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("progress broadcast failed: %s", future.exception())


def job_progress(job: IndexJob) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event: ProgressEvent = {"type": "job.progress", "progress": job.progress()}
    try:
        loop = _listening
        if isinstance(layer, InMemoryChannelLayer):
            if loop is None or loop.is_closed():
                return  # no page has listened in this process yet
            try:
                here = asyncio.get_running_loop()
            except RuntimeError:
                here = None
            if here is not loop:
                # Not waited for: a job must not stall on a busy web loop.
                sent = asyncio.run_coroutine_threadsafe(layer.group_send(GROUP, event), loop)
                sent.add_done_callback(_sent)
                return
        async_to_sync(layer.group_send)(GROUP, event)
    except Exception as exc:  # progress is a courtesy: a Redis hiccup must not fail the job
        log.warning("progress broadcast failed: %s", exc)
