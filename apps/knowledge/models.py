"""Knowledge sources, their documents, index jobs, index generations and the ops glossary
with its history."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Source(models.Model):
    """A place documents come from (a directory, uploads, Git, Confluence, a web page, chat
    history), with
    the groups allowed to read it. No groups means every signed-in user may read it."""

    class Type(models.TextChoices):
        DIRECTORY = "directory", _("Directory on the server")
        UPLOAD = "upload", _("Uploaded files")
        GIT = "git", _("Git repository")
        CONFLUENCE = "confluence", _("Confluence")
        WEB = "web", _("Web page or sitemap")
        MATTERMOST = "mattermost", _("Mattermost channels")
        CHAT_EXPORT = "chat_export", _("Chat export (Slack or Mattermost)")
        GDRIVE = "gdrive", _("Google Drive")

    name = models.CharField(_("name"), max_length=200, unique=True)
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    # A Fernet token of a JSON object (tokens, passwords); see crypto.py. Never rendered.
    secrets_encrypted = models.TextField(blank=True, default="")
    schedule_minutes = models.PositiveIntegerField(_("sync every (minutes)"), null=True, blank=True)
    allowed_groups = models.ManyToManyField(
        Group, blank=True, related_name="knowledge_sources", verbose_name=_("allowed groups")
    )
    # Labels an admin gives the source (e.g. "runbooks", "onboarding"): a scenario that reads
    # only runbooks asks the grounded-answer service for sources tagged so (answering.Scope).
    tags = models.JSONField(_("tags"), default=list, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    # Paused: the running job stops after its current document and schedules skip it.
    paused = models.BooleanField(_("paused"), default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    last_synced = models.DateTimeField(null=True, blank=True)
    # Where an incremental connector resumes (Mattermost's per-channel cursors), saved by a
    # sync that finished; see Connector.sync_state.
    sync_state = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("knowledge source")
        verbose_name_plural = _("knowledge sources")

    def __str__(self) -> str:
        return self.name

    def group_names(self) -> list[str]:
        return sorted(g.name for g in self.allowed_groups.all())

    def has_secrets(self) -> bool:
        return bool(self.secrets_encrypted)


class Document(models.Model):
    """One document of a source as last indexed: its stable id, version and content hash
    decide whether the next sync re-indexes it."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="documents")
    external_id = models.CharField(max_length=1000)
    version = models.CharField(max_length=200, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    path = models.CharField(max_length=1000, blank=True)
    title = models.CharField(max_length=500, blank=True)
    link = models.CharField(max_length=2000, blank=True)
    language = models.CharField(max_length=8, blank=True)
    size = models.BigIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    # The Qdrant collection holding its chunks: a model change re-indexes into a new one.
    collection = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    indexed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="knowledge_doc_unique")
        ]

    def __str__(self) -> str:
        return self.path or self.external_id


class IndexJob(models.Model):
    """One sync or rebuild of a source: progress, throughput, ETA and per-document errors."""

    class Kind(models.TextChoices):
        SYNC = "sync", _("sync")
        REBUILD = "rebuild", _("rebuild")

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")
        PAUSED = "paused", _("paused")

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SYNC)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    collection = models.CharField(max_length=200, blank=True)
    docs_total = models.PositiveIntegerField(default=0)
    docs_done = models.PositiveIntegerField(default=0)
    docs_skipped = models.PositiveIntegerField(default=0)
    docs_removed = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    throughput = models.FloatField(default=0.0)  # chunks per second so far
    eta_seconds = models.FloatField(null=True, blank=True)
    requested_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} {self.state}"

    @property
    def stalled(self) -> bool:
        """Running, but no heartbeat for KNOWLEDGE_JOB_STALE_SECONDS: its worker died, and it
        resumes when a worker (or the scheduled sync) finds it (recovery.py)."""
        if self.state != self.State.RUNNING or self.heartbeat is None:
            return False
        silence = (timezone.now() - self.heartbeat).total_seconds()
        return silence > settings.KNOWLEDGE_JOB_STALE_SECONDS

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        if not self.docs_total:
            return 0
        return min(100, int(100 * self.docs_done / self.docs_total))

    def progress(self) -> dict[str, Any]:
        """The JSON pushed over the websocket and returned by the console."""
        return {
            "job": self.pk,
            "source": self.source_id,
            "kind": self.kind,
            "state": self.state,
            "percent": self.percent,
            "docs_done": self.docs_done,
            "docs_total": self.docs_total,
            "docs_skipped": self.docs_skipped,
            "chunks_done": self.chunks_done,
            "errors": len(self.errors),
            "throughput": round(self.throughput, 1),
            "eta_seconds": None if self.eta_seconds is None else round(self.eta_seconds),
            "message": self.message,
        }


class Collection(models.Model):
    """A generation of the vector index: one Qdrant collection per embedding model. The
    alias points at the active one; a model change builds a new one beside it."""

    class State(models.TextChoices):
        BUILDING = "building", _("building")
        ACTIVE = "active", _("active")
        RETIRED = "retired", _("retired")

    name = models.CharField(max_length=200, unique=True)
    model = models.CharField(max_length=1000)
    dim = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.BUILDING)
    created = models.DateTimeField(auto_now_add=True)
    activated = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


class GlossaryEntry(models.Model):
    """One set of interchangeable RU/EN ops terms (e.g. под, поды, pod, pods): a query that
    contains one of them also searches for the others."""

    terms = models.CharField(_("terms"), max_length=500)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["terms"]
        verbose_name = _("glossary entry")
        verbose_name_plural = _("glossary entries")

    def __str__(self) -> str:
        return self.terms

    def term_list(self) -> list[str]:
        return [t.strip() for t in self.terms.split(",") if t.strip()]


class GlossaryRevision(models.Model):
    """The whole glossary as one save left it: the history an admin reads and reverts to."""

    text = models.TextField(blank=True)  # one synonym set per line, as the editor shows it
    sets = models.PositiveIntegerField(default=0)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Kept as text too: the history outlives the user; empty for the glossary found before
    # history began (the seeded defaults).
    author_name = models.CharField(max_length=150, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    reverted_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("glossary revision")
        verbose_name_plural = _("glossary revisions")

    def __str__(self) -> str:
        return f"glossary #{self.pk} ({self.sets} sets) by {self.author_name or '-'}"


class EnglishWord(models.Model):
    """An English word seen in indexed chunks, with its multilingual vector: what a Russian
    question word is matched to (apps/knowledge/search/crosslingual.py). Learned while
    indexing; never shown to a user."""

    word = models.CharField(max_length=32, unique=True)
    # Chunks it was seen in, counted up to crosslingual.MIN_CHUNKS only: a word seen once
    # (a typo) is not a translation. A re-indexed chunk counts again: a sighting count.
    chunks = models.PositiveSmallIntegerField(default=1)
    vector = models.BinaryField()  # float16, use-multilingual-v3

    def __str__(self) -> str:
        return self.word
