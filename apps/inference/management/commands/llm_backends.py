"""Create or update the backends listed in LLM_BACKENDS (the poller also does it at start)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.inference.backends import sync_from_settings


class Command(BaseCommand):
    help = "Apply LLM_BACKENDS to the backend registry and print what changed."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            changes = sync_from_settings()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for change in changes:
            self.stdout.write(change)
        if not changes:
            self.stdout.write("LLM backends already match LLM_BACKENDS")
