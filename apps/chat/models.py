"""Conversations, their messages, and users' feedback on answers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.inference.models import AUTO, TIER_CHOICES


class Conversation(models.Model):
    """One user's chat thread; only its owner may read or continue it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    knowledge = models.BooleanField(default=True, help_text="Answer from the knowledge base")
    tier = models.CharField(max_length=10, choices=TIER_CHOICES, default=AUTO)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated", "-id"]
        indexes = [models.Index(fields=["user", "-updated"])]

    def __str__(self) -> str:
        return self.title or f"#{self.pk}"


class Message(models.Model):
    """A user question or an assistant answer, with what it cost to produce the answer."""

    class Role(models.TextChoices):
        USER = "user", _("user")
        ASSISTANT = "assistant", _("assistant")

    class Status(models.TextChoices):
        STREAMING = "streaming", _("streaming")
        COMPLETE = "complete", _("complete")
        INTERRUPTED = "interrupted", _("interrupted")
        FAILED = "failed", _("failed")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMPLETE)
    # Set on an answer that Regenerate replaced: kept for feedback review, hidden in the chat.
    superseded = models.BooleanField(default=False)
    model = models.CharField(max_length=200, blank=True)
    backend = models.CharField(max_length=100, blank=True)
    tier = models.CharField(max_length=10, blank=True)
    requested_tier = models.CharField(max_length=10, blank=True)
    fell_back = models.BooleanField(default=False)
    ttft_s = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    tokens_per_s = models.FloatField(null=True, blank=True)
    citations = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # The model is a development model (its backend says so): the answer's footer says it.
    development = models.BooleanField(default=False)
    # The echo guard's verdict (apps/inference/guard.py): "" shown as written, "cut" shown up
    # to where it began repeating its prompt, "withheld" (nothing usable: a note instead).
    echo = models.CharField(max_length=8, blank=True, default="")
    # While streaming: the channel of the process that generates this answer (for Stop and
    # catch-up from another worker), the frame number the stored content reaches, and when
    # the generator last wrote (an old heartbeat means its process died).
    owner_channel = models.CharField(max_length=200, blank=True)
    stream_seq = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["conversation", "created"])]
        constraints = [
            # One answer at a time per conversation, enforced where two workers cannot race.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=models.Q(status="streaming"),
                name="chat_one_streaming_answer",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role} #{self.pk}"

    @property
    def is_streaming(self) -> bool:
        return self.status == self.Status.STREAMING


class Feedback(models.Model):
    """A thumbs up or down (with an optional comment) from the asker on one answer."""

    class Rating(models.IntegerChoices):
        UP = 1, _("helpful")
        DOWN = -1, _("not helpful")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_feedback"
    )
    rating = models.SmallIntegerField(choices=Rating.choices)
    comment = models.TextField(blank=True, max_length=2000)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="chat_feedback_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_rating_display()} on #{self.message_id}"
