"""Link an existing portal account to a person's identity at the OpenID Connect provider."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.accounts import audit
from apps.accounts.models import OIDCIdentity


class Command(BaseCommand):
    help = (
        "Link USERNAME to the provider's subject SUBJECT (the ID token's `sub`, shown in the "
        "audit log's refused sign-in), so signing on opens that account; --unlink removes it."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("subject")
        parser.add_argument("--unlink", action="store_true")

    def handle(self, *args: Any, username: str, subject: str, unlink: bool, **opts: Any) -> None:
        if not settings.OIDC_ISSUER:
            raise CommandError("OIDC_ISSUER is not set: single sign-on is off")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        issuer = settings.OIDC_ISSUER
        if unlink:
            deleted, _ = OIDCIdentity.objects.filter(
                user=user, issuer=issuer, subject=subject
            ).delete()
            if not deleted:
                raise CommandError(f"{username} is not linked to {subject!r}")
            audit.record(None, "oidc_unlinked", target=subject, actor_name=username)
            self.stdout.write(f"{username} unlinked from {subject}")
            return
        taken = OIDCIdentity.objects.filter(issuer=issuer, subject=subject).first()
        if taken is not None and taken.user_id != user.pk:
            raise CommandError(
                f"{subject!r} is linked to {taken.user.get_username()}; unlink it there first"
            )
        OIDCIdentity.objects.get_or_create(user=user, issuer=issuer, subject=subject)
        audit.record(None, "oidc_linked", target=subject, actor_name=username)
        self.stdout.write(self.style.SUCCESS(f"{username} linked to {subject} at {issuer}"))
