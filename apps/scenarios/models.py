"""Models of the scenarios: the engine's stored runs here; each scenario keeps its own in its
package (imported below so that Django finds them)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.scenarios.alert_triage.models import (
    Alert,
    AlertPayload,
    AlertToken,
    Delivery,
    Destination,
    Incident,
)
from apps.scenarios.migration.models import RabbitTarget, StepProgress
from apps.scenarios.onboarding.models import Track, TrackFileProblem, TrackProgress
from apps.scenarios.postmortem.models import (
    Announcement,
    Digest,
    PostmortemTemplate,
    PublishedPostmortem,
)
from apps.scenarios.redis_advice.models import RedisTarget

__all__ = [
    "Announcement",
    "Digest",
    "PostmortemTemplate",
    "PublishedPostmortem",
    "Alert",
    "AlertPayload",
    "AlertToken",
    "Delivery",
    "Destination",
    "Incident",
    "RabbitTarget",
    "RedisTarget",
    "Run",
    "StepProgress",
    "Track",
    "TrackFileProblem",
    "TrackProgress",
]


class Run(models.Model):
    """One analysis of one input by one scenario, and the explanation the model wrote for it.

    The deterministic half (findings, facts) is stored when the run is created; the
    explanation fills in afterwards, streamed like a chat answer. Only its owner sees a run,
    and whoever opens its share link while allowed to read every source it used."""

    class Status(models.TextChoices):
        NONE = "none", _("not requested")
        PENDING = "pending", _("waiting to start")
        STREAMING = "streaming", _("streaming")
        COMPLETE = "complete", _("complete")
        INTERRUPTED = "interrupted", _("interrupted")
        FAILED = "failed", _("failed")

    class Origin(models.TextChoices):
        PASTE = "paste", _("pasted")
        UPLOAD = "upload", _("uploaded file")
        GIT = "git", _("file from a Git source")
        API = "api", _("HTTP API")
        SYSTEM = "system", _("collected by the portal")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scenario_runs"
    )
    scenario = models.CharField(max_length=64, db_index=True)
    title = models.CharField(max_length=200, blank=True)
    # --- input ---
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.PASTE)
    input_name = models.CharField(max_length=500, blank=True)  # file name or repository path
    input_text = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    # A file of an indexed Git source: which source, the ref asked for and the commit read.
    input_source = models.ForeignKey(
        "knowledge.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    input_ref = models.CharField(max_length=200, blank=True)
    input_commit = models.CharField(max_length=40, blank=True)
    input_link = models.CharField(max_length=2000, blank=True)
    # --- analysis (Analysis.to_dict's parts) ---
    findings = models.JSONField(default=list, blank=True)
    facts = models.JSONField(default=dict, blank=True)
    grounding = models.JSONField(default=list, blank=True)
    failed = models.BooleanField(default=False)  # a critical or error finding
    # --- explanation ---
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NONE)
    answer = models.TextField(blank=True)
    error = models.TextField(blank=True)
    citations = models.JSONField(default=list, blank=True)
    # Every knowledge source the run read (cited or the input's own): who may open a share.
    source_ids = models.JSONField(default=list, blank=True)
    checks = models.JSONField(default=list, blank=True)
    model = models.CharField(max_length=200, blank=True)
    backend = models.CharField(max_length=100, blank=True)
    tier = models.CharField(max_length=10, blank=True)
    ttft_s = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    tokens_per_s = models.FloatField(null=True, blank=True)
    development = models.BooleanField(default=False)  # written by a development model
    echo = models.CharField(max_length=8, blank=True, default="")  # inference.guard's verdict
    # While streaming: the control channel of the process writing it (stop, catch-up from
    # another worker), the frame number the stored answer reaches, and its last save.
    owner_channel = models.CharField(max_length=200, blank=True)
    stream_seq = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # --- the owner's feedback on the explanation ---
    rating = models.SmallIntegerField(null=True, blank=True)  # 1 helpful, -1 not helpful
    comment = models.TextField(blank=True, max_length=2000)
    # --- sharing: a random token in the link; empty when not shared ---
    share_token = models.CharField(max_length=64, blank=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "scenario", "-created"])]

    def __str__(self) -> str:
        return f"{self.scenario} #{self.pk}"

    @property
    def is_streaming(self) -> bool:
        return self.status == self.Status.STREAMING

    @property
    def explained(self) -> bool:
        return self.status in (self.Status.COMPLETE, self.Status.INTERRUPTED)

    def counts(self) -> dict[str, int]:
        """Findings per severity, for lists."""
        out: dict[str, int] = {}
        for finding in self.findings:
            severity = str(finding.get("severity", ""))
            out[severity] = out.get(severity, 0) + 1
        return out

    def result(self) -> dict[str, Any]:
        """The analysis as the CLI and the HTTP API print it."""
        return {"findings": list(self.findings), **dict(self.facts)}
