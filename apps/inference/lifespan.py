"""ASGI lifespan: starts the backend poller (and the model servers' shared HTTP session)
with the server and stops them with the server.

uvicorn sends lifespan events; portal/asgi.py routes them here. A server without lifespan
support simply never starts the in-process poller: run `manage.py llm_poller` beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

Message = dict[str, Any]


async def application(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    from apps.inference import poller, upstream

    task: asyncio.Task[None] | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            upstream.open_shared()
            if settings.LLM_POLL_IN_WEB:
                task = asyncio.create_task(poller.run_forever(), name="llm-poller")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await upstream.close_shared()
            await send({"type": "lifespan.shutdown.complete"})
            return
