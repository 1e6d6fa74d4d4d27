"""Create a personal API token for a user from the command line and print it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.tokens import create_token


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (shown only this once)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, *args: Any, username: str, name: str, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}") from None
        _token, raw = create_token(user, name)
        self.stdout.write(raw)
