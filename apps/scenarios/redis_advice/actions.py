"""Writes of the Redis targets, audited, and the targets a user may use."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts import audit
from apps.accounts.roles import is_portal_admin
from apps.knowledge import crypto
from apps.scenarios.redis_advice.models import RedisTarget
from apps.scenarios.redis_advice.target import Target, parse_url


def usable_by(user: Any) -> QuerySet[RedisTarget]:
    """Enabled targets the user may read: admins all, others those of one of their groups."""
    targets = RedisTarget.objects.filter(enabled=True)
    if is_portal_admin(user):
        return targets
    if not getattr(user, "is_authenticated", False):
        return targets.none()
    return targets.filter(allowed_groups__in=user.groups.all()).distinct()


def connection(target: RedisTarget) -> Target:
    """Where to connect, with the decrypted password."""
    return replace(parse_url(target.url), password=target.password())


def save_target(
    actor: Any,
    *,
    target: RedisTarget | None,
    name: str,
    url: str,
    groups: Iterable[Group],
    enabled: bool,
    max_keys: int,
    scan_seconds: float,
    password: str = "",
    clear_password: bool = False,
    request: HttpRequest | None = None,
) -> RedisTarget:
    with transaction.atomic():
        created = target is None
        target = target or RedisTarget()
        target.name, target.url, target.enabled = name, url, enabled
        target.max_keys, target.scan_seconds = max_keys, scan_seconds
        if password:
            target.password_encrypted = crypto.encrypt({"password": password})
        elif clear_password:
            target.password_encrypted = ""
        target.save()
        target.allowed_groups.set(list(groups))
        audit.record(
            actor,
            "redis_target_created" if created else "redis_target_updated",
            name,
            # Never the password: only whether one changed.
            {
                "url": url,
                "groups": target.group_names(),
                "password_changed": bool(password or clear_password),
            },
            request,
        )
    return target


def delete_target(actor: Any, target: RedisTarget, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        name = target.name
        target.delete()
        audit.record(actor, "redis_target_deleted", name, {}, request)
