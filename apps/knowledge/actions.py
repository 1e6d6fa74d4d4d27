"""Writes of the knowledge app: sources, jobs, uploads, the glossary. Each is atomic and
each admin action is audited; index side effects run after the transaction commits."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from django.contrib.auth.models import Group
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest

from apps.accounts import audit
from apps.knowledge import crypto, tasks
from apps.knowledge.ingest.connectors.directory import upload_dir
from apps.knowledge.ingest.connectors.git import remove_checkouts
from apps.knowledge.ingest.jobs import create_job
from apps.knowledge.models import Collection, GlossaryEntry, GlossaryRevision, IndexJob, Source
from apps.knowledge.search import glossary
from apps.knowledge.store import qdrant


def _groups(names: Iterable[str]) -> list[Group]:
    return [Group.objects.get_or_create(name=n.strip())[0] for n in names if n.strip()]


def _sync_payload(source: Source) -> None:
    """Push the source's name and groups onto its chunks: an ACL change applies at once,
    without re-embedding anything."""
    payload = {"groups": source.group_names() or [qdrant.PUBLIC], "source": source.name}
    for row in Collection.objects.exclude(state=Collection.State.RETIRED):
        qdrant.set_source_payload(row.name, source.pk, payload)


def save_source(
    actor: Any,
    *,
    source: Source | None = None,
    name: str,
    type: str,
    settings: dict[str, Any],
    groups: Iterable[Group | str],
    tags: list[str] | None = None,
    enabled: bool = True,
    schedule_minutes: int | None = None,
    secrets: dict[str, str] | None = None,
    request: HttpRequest | None = None,
) -> Source:
    """Create or update a source. `secrets`: only the keys given are replaced; an empty
    value keeps what was stored (the form never shows stored secrets back)."""
    group_objs = [g if isinstance(g, Group) else _groups([g])[0] for g in groups]
    with transaction.atomic():
        created = source is None
        if source is None:
            source = Source(type=type)
        acl_before = None if created else source.group_names()
        name_before = source.name
        source.name = name
        source.type = type
        source.settings = settings
        if tags is not None:
            source.tags = tags
        source.enabled = enabled
        source.schedule_minutes = schedule_minutes
        if secrets and any(secrets.values()):
            stored = crypto.decrypt(source.secrets_encrypted) if source.secrets_encrypted else {}
            stored.update({k: v for k, v in secrets.items() if v})
            source.secrets_encrypted = crypto.encrypt(stored)
        source.save()
        source.allowed_groups.set(group_objs)
        details = {
            "type": type,
            "groups": source.group_names(),
            "tags": source.tags,
            "enabled": enabled,
            "settings": settings,
            "secrets_changed": sorted(k for k, v in (secrets or {}).items() if v),
        }
        audit.record(
            actor, "source_created" if created else "source_updated", source.name, details, request
        )
        if not created and (acl_before != source.group_names() or name_before != source.name):
            saved = source
            transaction.on_commit(lambda: _sync_payload(saved))
    return source


def delete_source(actor: Any, source: Source, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        source_id, name, kind = source.pk, source.name, source.type
        audit.record(actor, "source_deleted", name, {"type": kind}, request)
        source.delete()

        def cleanup() -> None:
            for row in Collection.objects.exclude(state=Collection.State.RETIRED):
                qdrant.delete_source(row.name, source_id)
            if kind in (Source.Type.UPLOAD, Source.Type.CHAT_EXPORT):
                shutil.rmtree(upload_dir(source_id), ignore_errors=True)
            if kind == Source.Type.GIT:
                # The repository copy holds every file of the repository, readable or not.
                remove_checkouts(source_id)

        transaction.on_commit(cleanup)


def start_job(
    actor: Any,
    source: Source,
    kind: str = IndexJob.Kind.SYNC,
    request: HttpRequest | None = None,
    wait: bool = False,
) -> IndexJob:
    """Queue a sync or rebuild (or return the one already running) and dispatch it."""
    with transaction.atomic():
        if source.paused:
            Source.objects.filter(pk=source.pk).update(paused=False)
            source.paused = False
        job = create_job(source, kind, requested_by=getattr(actor, "username", "") or "")
        audit.record(actor, f"source_{kind}", source.name, {"job": job.pk}, request)
        if job.state == IndexJob.State.QUEUED and not wait:
            transaction.on_commit(lambda: tasks.dispatch(job))
    if wait and job.state == IndexJob.State.QUEUED:
        # A waiting caller (the CLI) runs it right here, even inside an outer transaction.
        tasks.dispatch(job, wait=True)
    return job


def pause(actor: Any, source: Source, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        Source.objects.filter(pk=source.pk).update(paused=True)
        # A queued job that has not started yet will not start.
        IndexJob.objects.filter(source=source, state=IndexJob.State.QUEUED).update(
            state=IndexJob.State.PAUSED, message="paused by an admin"
        )
        audit.record(actor, "source_paused", source.name, {}, request)


def save_uploads(
    actor: Any, source: Source, files: list[UploadedFile[bytes]], request: HttpRequest | None = None
) -> list[str]:
    """Store uploaded files in the source's directory. Django has already spooled large
    uploads to a temporary file; they are moved in chunks, never read whole into memory."""
    folder = upload_dir(source.pk)
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for upload in files:
        name = Path(upload.name or "upload").name.replace("\x00", "")
        if not name or name.startswith("."):
            continue
        with open(folder / name, "wb") as out:
            for piece in upload.chunks():
                out.write(piece)
        saved.append(name)
    audit.record(actor, "source_files_uploaded", source.name, {"files": saved}, request)
    return saved


class GlossaryConflict(Exception):
    """The glossary was saved by someone else after the editor was opened."""

    def __init__(self, latest: GlossaryRevision | None):
        super().__init__("the glossary changed since it was opened")
        self.latest = latest


def glossary_lines(text: str) -> list[str]:
    """The editor's text as stored: one synonym set per line, terms trimmed, no repeats.
    Lines are checked by forms.GlossaryForm first; here lines with fewer than two terms
    are dropped (a set of one expands nothing)."""
    lines = []
    for line in text.splitlines():
        terms = [t.strip() for t in line.split(",") if t.strip()]
        if len(terms) >= 2:
            lines.append(", ".join(terms)[:500])
    return list(dict.fromkeys(lines))


def save_glossary(
    actor: Any,
    text: str,
    request: HttpRequest | None = None,
    base: int | Literal["none", "any"] = "any",
    reverted_from: GlossaryRevision | None = None,
) -> int:
    """Replace the glossary with one synonym set per line ("под, поды, pod, pods") and keep
    the result as a revision. `base`: the revision the editor was opened on ("none": there
    was none yet); when another save came since, GlossaryConflict and nothing is written.
    "any" (a revert, the CLI): the save applies whatever came before."""
    lines = glossary_lines(text)
    with transaction.atomic():
        # Locks the newest revision, so two saves on the same base cannot both pass.
        latest = GlossaryRevision.objects.select_for_update().order_by("-pk").first()
        if base != "any" and (latest.pk if latest else "none") != base:
            raise GlossaryConflict(latest)
        current = [e.terms for e in GlossaryEntry.objects.order_by("pk")]
        if latest is None and current:
            # The glossary from before history began (the seeded defaults) stays revertible.
            GlossaryRevision.objects.create(text="\n".join(current), sets=len(current))
        GlossaryEntry.objects.all().delete()
        GlossaryEntry.objects.bulk_create(GlossaryEntry(terms=t) for t in lines)
        user = actor if getattr(actor, "is_authenticated", False) else None
        revision = GlossaryRevision.objects.create(
            text="\n".join(lines),
            sets=len(lines),
            author=user,
            author_name=user.get_username() if user else "",
            reverted_from=reverted_from,
        )
        details: dict[str, Any] = {"before": len(current), "after": len(lines)}
        details["revision"] = revision.pk
        if reverted_from is not None:
            details["reverted_to"] = reverted_from.pk
        action = "glossary_reverted" if reverted_from is not None else "glossary_saved"
        audit.record(actor, action, "glossary", details, request)
        transaction.on_commit(glossary.invalidate)
    return len(lines)


def revert_glossary(
    actor: Any, revision: GlossaryRevision, request: HttpRequest | None = None
) -> int:
    """Make an earlier revision the glossary again, as a new revision (history is kept)."""
    return save_glossary(actor, revision.text, request=request, reverted_from=revision)


def ingest_directory(
    actor: Any, path: Path, name: str, groups: list[str], exclude: list[str] | None = None
) -> IndexJob:
    """`knowledge ingest`: create or update a directory source and index it, waiting."""
    source = Source.objects.filter(name=name).first()
    settings = dict(source.settings) if source else {}
    settings["path"] = str(path.resolve())
    if exclude is not None:
        settings["exclude"] = exclude
    source = save_source(
        actor,
        source=source,
        name=name,
        type=Source.Type.DIRECTORY,
        settings=settings,
        groups=groups,
        enabled=True,
        schedule_minutes=source.schedule_minutes if source else None,
    )
    job = start_job(actor, source, wait=True)
    job.refresh_from_db()
    # A directory source nested in another takes its files away from the outer one: re-sync
    # the outer sources now so those files stop being readable under the outer groups.
    root = path.resolve()
    for outer in Source.objects.filter(type=Source.Type.DIRECTORY).exclude(pk=source.pk):
        outer_root = Path(str(outer.settings.get("path", ""))).resolve()
        if outer_root != root and root.is_relative_to(outer_root):
            start_job(actor, outer, wait=True)
    return job
