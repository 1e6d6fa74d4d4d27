"""Background services that live as long as the server process.

Apps register them in AppConfig.ready() (the LLM backend poller, the knowledge scheduler),
the way they register health checks and console pages, so the top shell does not import any
app to start them and no request starts a thread. A service is a factory of an async context
manager: it starts on entry and stops on exit.

`lifespan` is the ASGI lifespan application portal/asgi.py serves: it enters every registered
service at start-up, in registration order, and leaves them in reverse order at shutdown. A
service that fails to start fails the start-up with its name, and the ones already started are
stopped. A server without lifespan support starts none; docs/operations.md names the commands
that run them on their own.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

log = logging.getLogger(__name__)

Service = Callable[[], AbstractAsyncContextManager[None]]
Message = dict[str, Any]

_services: dict[str, Service] = {}


def register(name: str, service: Service) -> None:
    """Run `service` beside the server; a second registration under a name replaces the first."""
    _services[name] = service


def registered() -> list[str]:
    return list(_services)


async def lifespan(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    async with contextlib.AsyncExitStack() as running:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                name = ""
                try:
                    for name, service in list(_services.items()):
                        await running.enter_async_context(service())
                        log.info("started %s", name)
                except Exception as exc:
                    log.exception("%s did not start", name)
                    await running.aclose()
                    await send({"type": "lifespan.startup.failed", "message": f"{name}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await running.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return
