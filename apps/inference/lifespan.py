"""The LLM gateway's background service: the model servers' shared HTTP session and, when
LLM_POLL_IN_WEB is on, the backend poller, for as long as the server runs.

Registered in InferenceConfig.ready() and started by the server's lifespan (common/services.py).
A server without lifespan support never starts the in-process poller: run
`manage.py llm_poller` beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from django.conf import settings


@contextlib.asynccontextmanager
async def serve() -> AsyncIterator[None]:
    from apps.inference import poller, upstream

    upstream.open_shared()
    task: asyncio.Task[None] | None = None
    if settings.LLM_POLL_IN_WEB:
        task = asyncio.create_task(poller.run_forever(), name="llm-poller")
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await upstream.close_shared()
