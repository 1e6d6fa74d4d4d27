from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One sign-in, failed sign-in or admin action: who did what to what, and when."""

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Kept as text too, so the trail survives the user's deletion and records failed logins.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.target}"


class ApiToken(models.Model):
    """A personal token for the OpenAI-compatible API; only its hash is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    # The first characters, shown in lists so a user can tell tokens apart.
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.user} {self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked is None


class OIDCIdentity(models.Model):
    """A portal user's identity at the OpenID Connect provider: the (issuer, sub) pair it
    signs in with. Only this pair recognises a person, never a matching email."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created = models.DateTimeField(auto_now_add=True)
    last_login = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_unique")
        ]
        verbose_name = _("single sign-on identity")
        verbose_name_plural = _("single sign-on identities")

    def __str__(self) -> str:
        return f"{self.user} @ {self.issuer} ({self.subject})"


class MessengerIdentity(models.Model):
    """A messenger account (a Slack or Mattermost user) linked to a portal account: the
    onboarding assistant answers its questions with this portal user's permissions. The
    owner links it once through a one-time link and may unlink it from the profile page."""

    class Kind(models.TextChoices):
        SLACK = "slack", "Slack"
        MATTERMOST = "mattermost", "Mattermost"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messenger_identities"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # Slack's workspace (team_id); empty for Mattermost, whose user ids are server-wide.
    team = models.CharField(max_length=64, blank=True)
    external_id = models.CharField(max_length=64)
    external_name = models.CharField(max_length=150, blank=True)
    linked = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "external_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "team", "external_id"], name="messenger_identity_unique"
            )
        ]
        verbose_name = _("messenger account")
        verbose_name_plural = _("messenger accounts")

    def __str__(self) -> str:
        return f"{self.kind}:{self.external_name or self.external_id} -> {self.user}"


class MessengerLinkCode(models.Model):
    """A one-time link offered to a messenger user who is not linked yet: whoever opens it
    while signed in to the portal links that messenger account to their own. Only the code's
    SHA-256 is kept; it expires after MESSENGER_LINK_MINUTES and works once."""

    digest = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=12, choices=MessengerIdentity.Kind.choices)
    team = models.CharField(max_length=64, blank=True)
    external_id = models.CharField(max_length=64)
    external_name = models.CharField(max_length=150, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField()
    used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["kind", "team", "external_id"], name="messenger_code_who")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.external_id} until {self.expires:%H:%M}"
