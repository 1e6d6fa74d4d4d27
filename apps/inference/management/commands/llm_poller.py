"""Poll the LLM backends: once (`--once`, prints the state) or forever as its own process."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand

from apps.inference import poller
from apps.inference.backends import sync_from_settings


class Command(BaseCommand):
    help = (
        "Apply LLM_BACKENDS, then poll every backend's /health and /metrics every "
        "LLM_POLL_INTERVAL seconds (run beside the portal when LLM_POLL_IN_WEB=false)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="poll once, print, and exit")

    def handle(self, *args: Any, once: bool, **options: Any) -> None:
        if not once:
            asyncio.run(poller.run_forever())
            return
        for change in sync_from_settings():
            self.stdout.write(f"settings: {change}")
        for s in poller.poll_now():
            status = "healthy" if s.healthy else f"UNHEALTHY ({s.reason})"
            load = f"running={s.running} waiting={s.waiting} kv={s.kv_cache_usage}"
            self.stdout.write(f"{s.name} [{s.tier}] {s.url} {s.model}: {status} {load}")
