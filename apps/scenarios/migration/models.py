"""RabbitMQ nodes an admin lets the migration checklist read, and each user's progress
through a checklist."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine.targets import LiveTarget


class RabbitTarget(LiveTarget):
    """A RabbitMQ management API the checklist reads with GET requests only (version, feature
    flags, queues, policies, alarms)."""

    url = models.CharField(_("management API URL"), max_length=500)
    username = models.CharField(_("user"), max_length=200)
    ca_file = models.CharField(_("CA file"), max_length=500, blank=True)
    allowed_groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="rabbit_targets",
        verbose_name=_("groups allowed to use it"),
    )

    audit_kind = "rabbit"

    class Meta:
        app_label = "scenarios"
        ordering = ["name"]
        verbose_name = _("RabbitMQ target")
        verbose_name_plural = _("RabbitMQ targets")

    def audit_details(self) -> dict[str, Any]:
        return {**super().audit_details(), "user": self.username}


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
