"""Create the first local admin if the portal has no superuser yet; print its password once."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first admin account (once) and print its generated password."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists already; nothing to do.")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        # Printed once to the operator's terminal, never logged or stored in clear text.
        self.stdout.write(self.style.SUCCESS(f"First admin created: {username} / {password}"))
        self.stdout.write("Write it down: it is not shown again (change it on sign-in).")
