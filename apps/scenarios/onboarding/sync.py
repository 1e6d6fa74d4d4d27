"""Tracks are found when their source syncs (knowledge.signals.source_synced): every file of
the source named *.track.yaml, *.track.yml or *.track.md is read again through the source's
connector, parsed, stored as a Track, and its links checked. A file that cannot be read is
kept as a TrackFileProblem for the console; a track whose file is gone is removed."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.knowledge.ingest.connectors import ConnectorError, DocRef, FetchError, get_connector
from apps.knowledge.models import Document, Source
from apps.scenarios.engine.base import InputError
from apps.scenarios.onboarding import links, tracks
from apps.scenarios.onboarding.models import Track, TrackFileProblem

log = logging.getLogger(__name__)


def on_source_synced(sender: Any, source: Source, **kwargs: Any) -> None:
    refresh(source)


def _read(connector: Any, doc: Document) -> str:
    fetched = connector.fetch(
        DocRef(external_id=doc.external_id, version=doc.version, path=doc.path, link=doc.link)
    )
    try:
        return fetched.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"the file is not UTF-8 text (byte {exc.start})") from None


def refresh(source: Source) -> list[Track]:
    """Read the source's track files again; returns the tracks it now defines."""
    files = [d for d in Document.objects.filter(source=source) if tracks.is_track_path(d.path)]
    found: list[tuple[Document, tracks.TrackFile]] = []
    problems: list[TrackFileProblem] = []
    if files:
        try:
            connector = get_connector(source)
        except Exception as exc:
            log.warning("cannot read the track files of %s: %s", source, exc)
            return list(Track.objects.filter(source=source))
        try:
            for doc in files:
                try:
                    found.append((doc, tracks.parse(_read(connector, doc), doc.path)))
                except InputError as exc:
                    problems.append(
                        TrackFileProblem(
                            source=source, path=doc.path, line=exc.line, message=exc.message
                        )
                    )
                except (FetchError, ConnectorError) as exc:
                    problems.append(
                        TrackFileProblem(source=source, path=doc.path, message=str(exc))
                    )
        finally:
            connector.close()
    kept: list[Track] = []
    with transaction.atomic():
        TrackFileProblem.objects.filter(source=source).delete()
        for doc, parsed in found:
            other = Track.objects.filter(name=parsed.name).exclude(source=source, path=doc.path)
            clash = other.select_related("source").first()
            if clash is not None:
                problems.append(
                    TrackFileProblem(
                        source=source,
                        path=doc.path,
                        line=1,
                        message=(
                            f"the track {parsed.name!r} is already defined by "
                            f"{clash.source.name}: {clash.path}"
                        ),
                    )
                )
                continue
            track, _created = Track.objects.update_or_create(
                source=source,
                path=doc.path,
                defaults={
                    "name": parsed.name,
                    "title": parsed.title,
                    "description": parsed.description,
                    "external_id": doc.external_id,
                    "link": doc.link,
                    "groups": parsed.groups,
                    "leads": parsed.leads,
                    "steps": [s.to_dict() for s in parsed.steps],
                },
            )
            kept.append(track)
        Track.objects.filter(source=source).exclude(pk__in=[t.pk for t in kept]).delete()
        TrackFileProblem.objects.bulk_create(problems)
    for track in kept:
        check_links(track)
    return kept


def check_links(track: Track) -> Track:
    """Check the track's links now and store the result."""
    wanted = [
        {"target": link["target"], "label": link.get("label", ""), "line": link.get("line")}
        for step in track.steps
        for link in step.get("read", [])
    ]
    unique: dict[str, dict[str, Any]] = {}
    for link in wanted:
        unique.setdefault(link["target"], link)
    track.links = links.check(list(unique.values()), track.source, track.path)
    track.links_checked = timezone.now()
    track.save(update_fields=["links", "links_checked"])
    return track
