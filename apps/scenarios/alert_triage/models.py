"""Alert triage's records: webhook tokens, every payload as received, one alert per firing
period with its triage, and the chat destinations with each delivery attempt."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AlertToken(models.Model):
    """A bearer token Alertmanager or Grafana sends with its webhook; only its hash is kept."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)  # shown so tokens can be told apart
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("alert webhook token")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AlertPayload(models.Model):
    """One webhook call exactly as received (every alert it carried), stored before the
    sender gets its answer and processed afterwards; nothing is lost if processing fails."""

    class State(models.TextChoices):
        RECEIVED = "received", _("received")
        PROCESSED = "processed", _("processed")
        FAILED = "failed", _("failed")

    received = models.DateTimeField(auto_now_add=True, db_index=True)
    token = models.ForeignKey(AlertToken, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=20)  # alertmanager | grafana
    receiver = models.CharField(max_length=200, blank=True)
    group_key = models.TextField(blank=True)
    status = models.CharField(max_length=10)
    alert_count = models.PositiveIntegerField(default=0)
    truncated_alerts = models.PositiveIntegerField(default=0)
    body = models.JSONField()
    # Where the sender reached the portal: the base of links back when PORTAL_URL is unset.
    base_url = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVED)
    processed = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received"]
        indexes = [
            models.Index(
                fields=["received"], name="alert_payload_pending", condition=Q(state="received")
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status} x{self.alert_count} at {self.received:%H:%M:%S}"


class Alert(models.Model):
    """One alert (by fingerprint) over one firing period, with its triage. Repeated
    notifications of the period only count; resolved closes it; a re-fire within
    ALERT_REOPEN_HOURS reopens it (a flapping alert stays one incident)."""

    class Status(models.TextChoices):
        FIRING = "firing", _("firing")
        RESOLVED = "resolved", _("resolved")

    class TriageState(models.TextChoices):
        PENDING = "pending", _("pending")
        WORKING = "working", _("being triaged")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")

    fingerprint = models.CharField(max_length=64, db_index=True)
    alertname = models.CharField(max_length=200, db_index=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, db_index=True)
    severity = models.CharField(max_length=40, blank=True, db_index=True)
    team = models.CharField(max_length=100, blank=True, db_index=True)
    summary = models.TextField(blank=True)
    labels = models.JSONField(default=dict)
    annotations = models.JSONField(default=dict)
    generator_url = models.CharField(max_length=2000, blank=True)
    source = models.CharField(max_length=20)  # alertmanager | grafana
    receiver = models.CharField(max_length=200, blank=True)
    starts_at = models.DateTimeField()  # the period's first start
    last_starts_at = models.DateTimeField()  # the latest start (a re-fire moves it)
    ends_at = models.DateTimeField(null=True, blank=True)
    first_received = models.DateTimeField(auto_now_add=True)
    last_received = models.DateTimeField()
    notifications = models.PositiveIntegerField(default=1)
    refires = models.PositiveIntegerField(default=0)
    # [{"at": iso, "event": "fired|repeated|resolved|reopened|..."}], newest last, capped.
    timeline = models.JSONField(default=list)
    triage_state = models.CharField(
        max_length=10, choices=TriageState.choices, default=TriageState.PENDING
    )
    triage = models.JSONField(default=dict, blank=True)
    triage_error = models.TextField(blank=True)
    base_url = models.CharField(max_length=300, blank=True)
    updated = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-last_starts_at"]
        constraints = [
            # One open period per alert: concurrent workers cannot both open one.
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=Q(status="firing"),
                name="alert_one_firing_per_fingerprint",
            )
        ]

    def __str__(self) -> str:
        return f"{self.alertname or self.fingerprint} {self.status}"

    def context(self) -> dict[str, Any]:
        return dict(self.triage.get("context") or {})


class Destination(models.Model):
    """A Mattermost or Slack incoming webhook that receives triages of matching alerts."""

    class Kind(models.TextChoices):
        MATTERMOST = "mattermost", "Mattermost"
        SLACK = "slack", "Slack"

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("messenger"), max_length=20, choices=Kind.choices)
    # The webhook URL carries its secret in the path: Fernet-encrypted (crypto.py), never shown.
    url_encrypted = models.TextField()
    url_hint = models.CharField(max_length=200, blank=True)  # scheme and host, for the list
    matchers = models.TextField(
        _("label matchers"),
        blank=True,
        help_text=_(
            'Alertmanager-style, comma-separated: team=storage, severity=~"critical|warning". '
            "Empty: every alert."
        ),
    )
    channel = models.CharField(_("channel override"), max_length=100, blank=True)
    send_resolved = models.BooleanField(_("post when resolved"), default=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("chat destination")

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Delivery(models.Model):
    """One message to one destination about one alert event, with its attempts."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        RETRYING = "retrying", _("retrying")
        FAILED = "failed", _("failed")

    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="deliveries"
    )
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=10)  # firing | resolved | reopened
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    sent = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["destination", "state"], name="delivery_dest_state")]

    def __str__(self) -> str:
        return f"{self.destination} {self.event} {self.state}"


class Incident(models.Model):
    """The alerts Alertmanager sends under one group key (its groupKey), from the first that
    fires until every one of them resolved or a user closed it. A closed incident's
    post-mortem is drafted and its summary posted once (postmortem/incidents.py)."""

    class State(models.TextChoices):
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")

    key_hash = models.CharField(max_length=64, db_index=True)  # sha256 of group_key
    group_key = models.TextField()
    receiver = models.CharField(max_length=200, blank=True)
    labels = models.JSONField(default=dict, blank=True)  # the group's labels
    alerts = models.ManyToManyField(Alert, related_name="incidents")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    opened = models.DateTimeField(auto_now_add=True)
    closed = models.DateTimeField(null=True, blank=True)
    closed_how = models.CharField(max_length=10, blank=True)  # resolved | user
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Claimed by one UPDATE when the draft begins: drafted and posted once per incident.
    postmortem_at = models.DateTimeField(null=True, blank=True)
    postmortem_run = models.ForeignKey(
        "scenarios.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    summary = models.TextField(blank=True)
    posts = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened"]
        constraints = [
            models.UniqueConstraint(
                fields=["key_hash"], condition=Q(state="open"), name="incident_one_open_per_group"
            )
        ]

    def __str__(self) -> str:
        return self.title()

    def title(self) -> str:
        labels = self.labels or {}
        name = labels.get("alertname") or ""
        rest = ", ".join(f"{k}={v}" for k, v in labels.items() if k != "alertname")
        return (f"{name} ({rest})" if name and rest else name or rest or self.group_key)[:200]
