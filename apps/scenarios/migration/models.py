"""RabbitMQ nodes an admin lets the migration checklist read, and each user's progress
through a checklist."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.knowledge import crypto


class RabbitTarget(models.Model):
    """A RabbitMQ management API the checklist reads with GET requests only (version, feature
    flags, queues, policies, alarms). Its password is kept as a Fernet token like the
    knowledge sources' secrets; no groups means admins only."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    url = models.CharField(_("management API URL"), max_length=500)
    username = models.CharField(_("user"), max_length=200)
    password_encrypted = models.TextField(blank=True, default="")
    ca_file = models.CharField(_("CA file"), max_length=500, blank=True)
    allowed_groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="rabbit_targets",
        verbose_name=_("groups allowed to use it"),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "scenarios"
        ordering = ["name"]
        verbose_name = _("RabbitMQ target")
        verbose_name_plural = _("RabbitMQ targets")

    def __str__(self) -> str:
        return self.name

    def password(self) -> str:
        return crypto.decrypt(self.password_encrypted).get("password", "")

    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    def group_names(self) -> list[str]:
        return sorted(g.name for g in self.allowed_groups.all())


class StepProgress(models.Model):
    """Where one user is with one step of a checklist run: done, skipped or blocked (with a
    note). Kept per user, so colleagues on a shared run tick their own steps."""

    class State(models.TextChoices):
        DONE = "done", _("done")
        SKIPPED = "skipped", _("skipped")
        BLOCKED = "blocked", _("blocked")

    run = models.ForeignKey("scenarios.Run", on_delete=models.CASCADE, related_name="progress")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    step = models.CharField(max_length=100)
    state = models.CharField(max_length=10, choices=State.choices)
    note = models.TextField(blank=True, max_length=1000)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "scenarios"
        constraints = [
            models.UniqueConstraint(fields=["run", "user", "step"], name="one_state_per_user_step")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.step}: {self.state}"
