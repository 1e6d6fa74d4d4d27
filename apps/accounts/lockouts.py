"""Sign-in lockouts as the admin console shows them: one row per user name and address
whose failures within the cool-off period reached LOGIN_FAILURE_LIMIT (django-axes' rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.utils import timezone


@dataclass(frozen=True)
class Lockout:
    username: str
    ip: str
    failures: int
    last_attempt: datetime
    until: datetime


def current() -> list[Lockout]:
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    rows = (
        AccessAttempt.objects.filter(attempt_time__gte=since)
        .values("username", "ip_address")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
        .order_by("-last")
    )
    return [
        Lockout(
            username=row["username"] or "",
            ip=row["ip_address"] or "",
            failures=row["failures"],
            last_attempt=row["last"],
            until=row["last"] + settings.AXES_COOLOFF_TIME,
        )
        for row in rows
    ]
