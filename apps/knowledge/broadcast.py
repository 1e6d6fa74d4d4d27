"""Push index job progress to the admin console's websocket (one group for all admins)."""

from __future__ import annotations

import logging
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.knowledge.models import IndexJob

log = logging.getLogger(__name__)

GROUP = "knowledge.jobs"


class ProgressEvent(TypedDict):
    type: Literal["job.progress"]
    progress: dict[str, object]


def job_progress(job: IndexJob) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event: ProgressEvent = {"type": "job.progress", "progress": job.progress()}
    try:
        async_to_sync(layer.group_send)(GROUP, event)
    except Exception as exc:  # progress is a courtesy: a Redis hiccup must not fail the job
        log.warning("progress broadcast failed: %s", exc)
