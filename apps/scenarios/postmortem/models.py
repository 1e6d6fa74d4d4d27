"""Post-mortems: the template a draft starts from, and the reports published through the
portal (each a Markdown document of a knowledge source, with its summary and where it was
posted)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PostmortemTemplate(models.Model):
    """The sections a new post-mortem starts with, per language; an admin edits them. A
    language without a row uses the built-in default (templates.py)."""

    language = models.CharField(_("language"), max_length=8, unique=True)
    body = models.TextField(_("template"))
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("post-mortem template")

    def __str__(self) -> str:
        return f"post-mortem template ({self.language})"


class PublishedPostmortem(models.Model):
    """A post-mortem written on the portal and published to the knowledge base; published
    again from the same run, the same row, file and Confluence page are updated. With
    Confluence configured, its copy there: the page id and version last written, its link,
    or why the copy failed (confluence.py)."""

    title = models.CharField(_("title"), max_length=300)
    incident = models.CharField(_("incident"), max_length=100, blank=True)
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.ForeignKey(
        "scenarios.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.ForeignKey(
        "knowledge.Source", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    path = models.CharField(max_length=500)
    groups = models.JSONField(default=list, blank=True)
    confluence_link = models.CharField(max_length=2000, blank=True)
    confluence_page_id = models.CharField(max_length=50, blank=True)
    confluence_version = models.PositiveIntegerField(null=True, blank=True)
    confluence_error = models.TextField(blank=True)
    confluence_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    indexed = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.title


class Announcement(models.Model):
    """A post-mortem that appeared in a post-mortem source, its one-line and longer summary,
    and what became of posting it to each chat destination."""

    source = models.ForeignKey("knowledge.Source", null=True, on_delete=models.SET_NULL)
    external_id = models.CharField(max_length=1000)
    title = models.CharField(max_length=500)
    link = models.CharField(max_length=2000, blank=True)
    one_line = models.CharField(max_length=500, blank=True)
    summary = models.TextField(blank=True)
    # [{"destination": name, "kind": ..., "status": http status or None, "error": "", "at": iso}]
    posts = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="postmortem_announced_once"
            )
        ]

    def __str__(self) -> str:
        return self.title


class Digest(models.Model):
    """One weekly digest, by ISO week: sent once however often the scheduler asks."""

    week = models.CharField(max_length=10, unique=True)  # 2026-W10
    text = models.TextField()
    posts = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.week
