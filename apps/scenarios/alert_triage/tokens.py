"""Webhook bearer tokens: created by an admin (console or `manage.py alerttoken NAME`), shown
once, stored as a hash, checked on every webhook call without a database round trip."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts import audit
from apps.scenarios.alert_triage.models import AlertToken

TOKEN_PREFIX = "oda_"  # noqa: S105  (a label, not a secret)
# Tokens known to this process, refreshed this often: a revoked token stops working within
# this many seconds in every worker, and a burst of webhooks costs no token query each.
REFRESH_SECONDS = 5.0
_known: dict[str, int] = {}
_loaded_at = float("-inf")
_lock = threading.Lock()


def digest(raw: str) -> str:
    # Long random tokens: a plain SHA-256 suffices (no password stretching).
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def create(name: str, actor: Any = None, actor_name: str = "") -> tuple[AlertToken, str]:
    """The token row and the raw token, shown once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = AlertToken.objects.create(
        name=name.strip()[:100] or "alertmanager",
        prefix=raw[:12],
        digest=digest(raw),
        created_by=actor_name or (actor.get_username() if actor else ""),
    )
    audit.record(
        actor,
        "alert_token_created",
        target=token.prefix,
        details={"name": token.name},
        actor_name=actor_name,
    )
    forget()
    return token, raw


@transaction.atomic
def revoke(token_id: int, actor: Any) -> bool:
    done = AlertToken.objects.filter(pk=token_id, revoked__isnull=True).update(
        revoked=timezone.now()
    )
    if done:
        audit.record(actor, "alert_token_revoked", target=str(token_id))
    forget()
    return bool(done)


def forget() -> None:
    global _loaded_at
    with _lock:
        _loaded_at = float("-inf")


def _raw(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _sep, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value.startswith(TOKEN_PREFIX) or len(value) > 200:
        return None
    return value


def cached(header: str | None) -> tuple[bool, int | None]:
    """(fresh, token id) from this process's cache, without the database: when not fresh,
    call check() (which reads the tokens) from a thread that may use the database."""
    raw = _raw(header)
    if raw is None:
        return True, None
    with _lock:
        if time.monotonic() - _loaded_at >= REFRESH_SECONDS:
            return False, None
        return True, _known.get(digest(raw))


def check(header: str | None) -> int | None:
    """The id of the active token an `Authorization: Bearer …` header carries."""
    global _known, _loaded_at
    raw = _raw(header)
    if raw is None:
        return None
    fresh, token_id = cached(header)
    if fresh:
        return token_id
    rows = dict(AlertToken.objects.filter(revoked__isnull=True).values_list("digest", "pk"))
    with _lock:
        _known, _loaded_at = rows, time.monotonic()
    return rows.get(digest(raw))


_touched: dict[int, float] = {}


def touch(token_id: int) -> None:
    # last_used is written at most once a minute per token: a storm costs no extra writes.
    now = time.monotonic()
    if now - _touched.get(token_id, -1e9) < 60:
        return
    _touched[token_id] = now
    AlertToken.objects.filter(pk=token_id).update(last_used=timezone.now())


def used_recently(token: AlertToken) -> bool:
    return bool(token.last_used and timezone.now() - token.last_used < timedelta(days=1))
