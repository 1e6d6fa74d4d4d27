"""Writes of the migration checklist: RabbitMQ targets (audited) and per-user step progress."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts import audit
from apps.accounts.roles import is_portal_admin
from apps.knowledge import crypto
from apps.scenarios.migration.models import RabbitTarget, StepProgress

if TYPE_CHECKING:  # scenarios.models imports this package's models: no cycle at run time
    from apps.scenarios.models import Run


def usable_by(user: Any) -> QuerySet[RabbitTarget]:
    """Enabled targets the user may read: admins all, others those of one of their groups."""
    targets = RabbitTarget.objects.filter(enabled=True)
    if is_portal_admin(user):
        return targets
    if not getattr(user, "is_authenticated", False):
        return targets.none()
    return targets.filter(allowed_groups__in=user.groups.all()).distinct()


def save_target(
    actor: Any,
    *,
    target: RabbitTarget | None,
    name: str,
    url: str,
    username: str,
    ca_file: str,
    groups: Iterable[Group],
    enabled: bool,
    password: str = "",
    clear_password: bool = False,
    request: HttpRequest | None = None,
) -> RabbitTarget:
    with transaction.atomic():
        created = target is None
        target = target or RabbitTarget()
        target.name, target.url, target.username = name, url, username
        target.ca_file, target.enabled = ca_file, enabled
        if password:
            target.password_encrypted = crypto.encrypt({"password": password})
        elif clear_password:
            target.password_encrypted = ""
        target.save()
        target.allowed_groups.set(list(groups))
        audit.record(
            actor,
            "rabbit_target_created" if created else "rabbit_target_updated",
            name,
            # Never the password: only whether one changed.
            {
                "url": url,
                "user": username,
                "groups": target.group_names(),
                "password_changed": bool(password or clear_password),
            },
            request,
        )
    return target


def delete_target(actor: Any, target: RabbitTarget, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        name = target.name
        target.delete()
        audit.record(actor, "rabbit_target_deleted", name, {}, request)


def step_ids(run: Run) -> list[str]:
    return [str(s.get("id")) for s in (run.facts or {}).get("steps", [])]


def set_progress(run: Run, user: Any, step: str, state: str, note: str = "") -> StepProgress | None:
    """Record where the user is with one step; state "" clears it."""
    if step not in step_ids(run):
        raise ValueError(step)
    if state and state not in StepProgress.State.values:
        raise ValueError(state)
    with transaction.atomic():
        if not state:
            StepProgress.objects.filter(run=run, user=user, step=step).delete()
            return None
        row, _created = StepProgress.objects.update_or_create(
            run=run, user=user, step=step, defaults={"state": state, "note": note[:1000]}
        )
    return row


def progress_of(run: Run, user: Any) -> dict[str, StepProgress]:
    return {p.step: p for p in StepProgress.objects.filter(run=run, user=user)}
