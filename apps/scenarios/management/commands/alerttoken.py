"""`manage.py alerttoken NAME`: a bearer token for Alertmanager's webhook, printed once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.scenarios.alert_triage import tokens
from apps.scenarios.alert_triage.models import AlertToken


class Command(BaseCommand):
    help = (
        "Create a token for POST /hooks/alertmanager/ and print it (shown only this once); "
        "--revoke PREFIX revokes one, --list lists them."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", nargs="?", help="what sends with it, e.g. alertmanager-prod")
        parser.add_argument("--revoke", metavar="PREFIX", help="revoke the token starting so")
        parser.add_argument("--list", action="store_true", help="list tokens (never the secret)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for t in AlertToken.objects.all():
                state = f"revoked {t.revoked:%Y-%m-%d}" if t.revoked else "active"
                used = f"{t.last_used:%Y-%m-%d %H:%M}" if t.last_used else "never"
                self.stdout.write(f"{t.prefix}…\t{t.name}\t{state}\tlast used {used}")
            return
        if options["revoke"]:
            token = AlertToken.objects.filter(prefix__startswith=options["revoke"][:12]).first()
            if token is None:
                raise CommandError(f"no token starts with {options['revoke']!r}")
            tokens.revoke(token.pk, None)
            self.stdout.write(f"revoked {token.prefix}… ({token.name})")
            return
        if not options["name"] or not options["name"].strip():
            raise CommandError("give the token a NAME, e.g. `alerttoken alertmanager-prod`")
        _token, raw = tokens.create(options["name"], actor_name="manage.py alerttoken")
        self.stdout.write(raw)
