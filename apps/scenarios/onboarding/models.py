"""Onboarding's records: the tracks found in knowledge sources (with their links' last check),
track files that could not be read, and each newcomer's progress per step."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Track(models.Model):
    """An onboarding track as the last sync of its source read it from a track file."""

    name = models.CharField(_("name"), max_length=63, unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(blank=True)
    source = models.ForeignKey(
        "knowledge.Source", on_delete=models.CASCADE, related_name="onboarding_tracks"
    )
    path = models.CharField(max_length=1000)  # the track file in its source
    external_id = models.CharField(max_length=1000)
    link = models.CharField(max_length=2000, blank=True)  # the file where the team edits it
    groups = models.JSONField(default=list)  # whose members follow it
    leads = models.JSONField(default=list, blank=True)  # whose members see the progress
    steps = models.JSONField(default=list)  # tracks.Step.to_dict() of each step, in order
    # One row per link of the track: {"target", "label", "ok", "problem", "document"}.
    links = models.JSONField(default=list, blank=True)
    links_checked = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "name"]
        verbose_name = _("onboarding track")
        verbose_name_plural = _("onboarding tracks")

    def __str__(self) -> str:
        return self.name

    def step(self, key: str) -> dict[str, Any] | None:
        return next((s for s in self.steps if s.get("key") == key), None)

    @property
    def broken_links(self) -> list[dict[str, Any]]:
        return [link for link in self.links if not link.get("ok")]

    def link_state(self, target: str) -> dict[str, Any] | None:
        return next((link for link in self.links if link.get("target") == target), None)


class TrackFileProblem(models.Model):
    """A track file the last sync of its source could not use, and why (shown to admins)."""

    source = models.ForeignKey(
        "knowledge.Source", on_delete=models.CASCADE, related_name="onboarding_problems"
    )
    path = models.CharField(max_length=1000)
    line = models.PositiveIntegerField(null=True, blank=True)
    message = models.TextField()
    found = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source_id", "path"]
        verbose_name = _("track file problem")

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class TrackProgress(models.Model):
    """Where one user is with one step of a track. No row: not started."""

    class State(models.TextChoices):
        DONE = "done", _("done")
        SKIPPED = "skipped", _("skipped")
        BLOCKED = "blocked", _("blocked")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="onboarding_progress"
    )
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="progress")
    step = models.CharField(max_length=80)  # the step's key: kept when steps are reordered
    state = models.CharField(max_length=10, choices=State.choices)
    note = models.TextField(blank=True)  # why it is blocked (required then) or skipped
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["track_id", "user_id", "step"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "track", "step"], name="onboarding_progress_unique"
            )
        ]
        verbose_name = _("onboarding step progress")

    def __str__(self) -> str:
        return f"{self.user} {self.track} {self.step}: {self.state}"
