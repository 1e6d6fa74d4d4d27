from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.inference.validators import validate_base_url


class Tier(models.TextChoices):
    """The model tiers a backend serves. This and AUTO are the one list of tiers: pages,
    forms, the chat and the API all take theirs from here."""

    FAST = "fast", _("fast")
    HEAVY = "heavy", _("heavy")


# What a caller may ask for: a tier, or "auto" (routing.choose_tier picks one per request).
AUTO = "auto"
TIER_CHOICES = [(AUTO, _("auto")), *Tier.choices]


class Backend(models.Model):
    """One OpenAI-compatible model server (a vLLM replica) the portal may route calls to."""

    name = models.SlugField(_("name"), max_length=64, unique=True)
    # The OpenAI-compatible base URL, ending in /v1; /health and /metrics sit beside /v1.
    url = models.CharField(_("base URL"), max_length=300, validators=[validate_base_url])
    model = models.CharField(_("served model name"), max_length=200)
    tier = models.CharField(_("tier"), max_length=8, choices=Tier.choices, default=Tier.FAST)
    # Fernet token (apps.inference.crypto); the plain key is never shown again after saving.
    api_key_encrypted = models.TextField(blank=True, default="")
    enabled = models.BooleanField(_("enabled"), default=True)
    # A base model (no chat training, like the dev gemma-3-270m) is asked in plain completion
    # style on /v1/completions; instruction-tuned models get chat messages.
    base_model = models.BooleanField(
        _("base model"),
        default=False,
        help_text=_(
            "The model was never trained on chat turns: ask it as a plain document to "
            "continue (/v1/completions), with a repetition guard and stop strings."
        ),
    )
    development = models.BooleanField(
        _("development model"),
        default=False,
        help_text=_("A small model for trying the portal out: every answer it writes says so."),
    )
    # Entries from LLM_BACKENDS are re-applied at start-up; console-made ones are left alone.
    from_settings = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tier", "name"]
        verbose_name = _("LLM backend")
        verbose_name_plural = _("LLM backends")

    def __str__(self) -> str:
        return f"{self.name} ({self.tier}, {self.model})"

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted)


class Outcome(models.TextChoices):
    COMPLETE = "complete", _("complete")
    INTERRUPTED = "interrupted", _("interrupted")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


class LLMCall(models.Model):
    """One call to a model through apps.inference.client, successful or not."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Names, not foreign keys: the history must survive a backend being renamed or deleted.
    backend = models.CharField(max_length=64, blank=True, db_index=True)
    model = models.CharField(max_length=200, blank=True)
    tier = models.CharField(max_length=8, blank=True)
    requested_tier = models.CharField(max_length=8, blank=True)
    fell_back = models.BooleanField(default=False)
    purpose = models.CharField(max_length=40, blank=True, db_index=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    ttft_s = models.FloatField(null=True, blank=True)
    tokens_per_s = models.FloatField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, db_index=True)
    error = models.TextField(blank=True)
    # Backends tried before the one that answered: [{"backend": ..., "error": ...}].
    failed_attempts = models.JSONField(default=list, blank=True)
    # The echo guard's verdict (apps/inference/guard.py): "", "cut" or "withheld".
    echo = models.CharField(max_length=8, blank=True, default="", db_index=True)
    started = models.DateTimeField(db_index=True)
    finished = models.DateTimeField()

    class Meta:
        ordering = ["-started"]
        verbose_name = _("LLM call")
        verbose_name_plural = _("LLM calls")
        indexes = [models.Index(fields=["backend", "started"])]

    def __str__(self) -> str:
        return f"{self.started:%Y-%m-%d %H:%M:%S} {self.backend} {self.outcome}"
