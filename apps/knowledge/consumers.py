"""Live index job progress for the admin console: admins only, read-only."""

from __future__ import annotations

import asyncio
from typing import Any

from apps.accounts.roles import is_portal_admin
from apps.knowledge.ingest import progress
from apps.knowledge.ingest.progress import GROUP, ProgressEvent
from common.ws import SafeJsonConsumer


class JobProgressConsumer(SafeJsonConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if not is_portal_admin(user):
            await self.close(code=4403)  # anonymous and non-admins are refused
            return
        await self.channel_layer.group_add(GROUP, self.channel_name)
        progress.listening_on(asyncio.get_running_loop())
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        pass  # nothing to receive: the page only listens

    async def job_progress(self, event: ProgressEvent) -> None:
        await self.send_json(event["progress"])
