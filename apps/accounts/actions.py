"""Writes of the accounts app that are admin actions (tokens are in tokens.py)."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest

from apps.accounts import audit


def remove_lockout(actor: User, username: str, ip: str, request: HttpRequest | None = None) -> int:
    """Lift the lockout of one user name at one address (both must match: lifting an
    attacker's address for every user, or a user for every address, is not what the admin
    clicked). Returns how many failure records were removed; audited when any was."""
    with transaction.atomic():
        rows = AccessAttempt.objects.filter(username=username or None, ip_address=ip or None)
        removed, _ = rows.delete()
        if removed:
            audit.record(
                actor, "lockout_removed", target=username, details={"ip": ip}, request=request
            )
    return int(removed)
