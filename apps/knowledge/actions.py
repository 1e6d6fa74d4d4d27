"""Writes of the knowledge app: sources, jobs, uploads, the glossary. Each is atomic and
each admin action is audited; index side effects run after the transaction commits."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest

from apps.accounts import audit
from apps.knowledge import crypto, glossary, index, tasks
from apps.knowledge.connectors.directory import upload_dir
from apps.knowledge.indexing import create_job
from apps.knowledge.models import Collection, GlossaryEntry, IndexJob, Source


def _groups(names: Iterable[str]) -> list[Group]:
    return [Group.objects.get_or_create(name=n.strip())[0] for n in names if n.strip()]


def _sync_payload(source: Source) -> None:
    """Push the source's name and groups onto its chunks: an ACL change applies at once,
    without re-embedding anything."""
    payload = {"groups": source.group_names() or [index.PUBLIC], "source": source.name}
    for row in Collection.objects.exclude(state=Collection.State.RETIRED):
        index.set_source_payload(row.name, source.pk, payload)


def save_source(
    actor: Any,
    *,
    source: Source | None = None,
    name: str,
    type: str,
    settings: dict[str, Any],
    groups: Iterable[Group | str],
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
                index.delete_source(row.name, source_id)
            if kind == Source.Type.UPLOAD:
                shutil.rmtree(upload_dir(source_id), ignore_errors=True)

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
    actor: Any, source: Source, files: list[UploadedFile], request: HttpRequest | None = None
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


def save_glossary(actor: Any, text: str, request: HttpRequest | None = None) -> int:
    """Replace the glossary with one synonym set per line ("под, поды, pod, pods")."""
    lines = []
    for line in text.splitlines():
        terms = [t.strip() for t in line.split(",") if t.strip()]
        if len(terms) >= 2:
            lines.append(", ".join(terms)[:500])
    with transaction.atomic():
        before = GlossaryEntry.objects.count()
        GlossaryEntry.objects.all().delete()
        GlossaryEntry.objects.bulk_create(GlossaryEntry(terms=t) for t in dict.fromkeys(lines))
        audit.record(
            actor, "glossary_saved", "glossary", {"before": before, "after": len(lines)}, request
        )
        transaction.on_commit(glossary.invalidate)
    return len(lines)


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
