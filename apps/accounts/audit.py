"""The audit trail: every sign-in and admin action goes through record()."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.accounts.models import AuditEvent


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    # REMOTE_ADDR only: behind a proxy in TRUSTED_PROXIES, common/proxies.py has already
    # put the client's address there; X-Forwarded-For itself is set by clients too.
    return request.META.get("REMOTE_ADDR") or None


def record(
    actor: Any,
    action: str,
    target: str = "",
    details: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    actor_name: str = "",
) -> AuditEvent:
    """Store one audit event; `actor` may be a user, None, or an anonymous user."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    name = actor_name or (user.get_username() if user else "")
    return AuditEvent.objects.create(
        actor=user,
        actor_name=name[:150],
        action=action,
        target=str(target)[:255],
        details=details or {},
        ip=client_ip(request),
    )
