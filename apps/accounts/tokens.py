"""Personal API tokens: create, revoke, and authenticate a Bearer header."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from apps.accounts import audit
from apps.accounts.models import ApiToken

TOKEN_PREFIX = "odk_"  # noqa: S105  (a label, not a secret)


def _digest(raw: str) -> str:
    # Tokens are long random strings, so a plain SHA-256 is enough (no password stretching).
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Returns the token row and the raw token, which is shown once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name.strip()[:100] or "token", prefix=raw[:12], digest=_digest(raw)
    )
    audit.record(user, "api_token_created", target=token.prefix, details={"name": token.name})
    return token, raw


@transaction.atomic
def revoke_token(user: User, token_id: int) -> bool:
    updated = ApiToken.objects.filter(pk=token_id, user=user, revoked__isnull=True).update(
        revoked=timezone.now()
    )
    if updated:
        audit.record(user, "api_token_revoked", target=str(token_id))
    return bool(updated)


def user_for_token(raw: str) -> Any | None:
    """The active user owning this raw token, or None."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(raw), revoked__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Write last_used at most once a minute: a streaming client calls many times per minute.
    if token.last_used is None or now - token.last_used > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
    return token.user


def user_for_authorization_header(header: str | None) -> Any | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return user_for_token(value.strip())
