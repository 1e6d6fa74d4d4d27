"""Redis instances an admin lets the Redis performance scenario read."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.knowledge import crypto


class RedisTarget(models.Model):
    """A Redis instance the scenario reads with read-only commands. Its password is kept as
    a Fernet token like the knowledge sources' secrets; no groups means admins only."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    # Without the password: it is stored encrypted in password_encrypted, never shown again.
    url = models.CharField(_("URL"), max_length=500)
    password_encrypted = models.TextField(blank=True, default="")
    allowed_groups = models.ManyToManyField(
        Group, blank=True, related_name="redis_targets", verbose_name=_("groups allowed to use it")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    max_keys = models.PositiveIntegerField(_("keys sampled at most"), default=100_000)
    scan_seconds = models.FloatField(_("sampling time at most (seconds)"), default=0.5)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "scenarios"
        ordering = ["name"]
        verbose_name = _("Redis target")
        verbose_name_plural = _("Redis targets")

    def __str__(self) -> str:
        return self.name

    def password(self) -> str:
        return crypto.decrypt(self.password_encrypted).get("password", "")

    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    def group_names(self) -> list[str]:
        return sorted(g.name for g in self.allowed_groups.all())
