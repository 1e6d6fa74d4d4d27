"""Redis instances an admin lets the Redis performance scenario read."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine.targets import LiveTarget


class RedisTarget(LiveTarget):
    """A Redis instance the scenario reads with read-only commands."""

    # Without the password: it is stored encrypted in password_encrypted, never shown again.
    url = models.CharField(_("URL"), max_length=500)
    allowed_groups = models.ManyToManyField(
        Group, blank=True, related_name="redis_targets", verbose_name=_("groups allowed to use it")
    )
    max_keys = models.PositiveIntegerField(_("keys sampled at most"), default=100_000)
    scan_seconds = models.FloatField(_("sampling time at most (seconds)"), default=0.5)

    audit_kind = "redis"

    class Meta:
        app_label = "scenarios"
        ordering = ["name"]
        verbose_name = _("Redis target")
        verbose_name_plural = _("Redis targets")
