"""The guides a checklist cites, found in the knowledge base: a document of a source the user
may read whose path is the guide's file in the vendor's repository (a Git source of that
repository) or ends with it (a directory holding several repositories)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from apps.knowledge.models import Document
from apps.knowledge.search.retrieval import readable_source_ids


def documents(user: Any, paths: set[str]) -> dict[str, dict[str, str]]:
    """{cited path: {"title", "source", "link"}} for the cited files the user may read."""
    paths = {p for p in paths if p and not p.startswith("/") and ".." not in p}
    if not paths or user is None or not user.is_authenticated:
        return {}
    wanted = Q()
    for path in paths:
        wanted |= Q(path=path) | Q(path__endswith=f"/{path}")
    rows = (
        Document.objects.filter(wanted, source_id__in=readable_source_ids(user))
        .select_related("source")
        .order_by("path")
    )
    out: dict[str, dict[str, str]] = {}
    for doc in rows[:200]:
        for path in paths:
            if path not in out and (doc.path == path or doc.path.endswith(f"/{path}")):
                link = doc.link if doc.link.startswith(("https://", "http://", "/")) else ""
                out[path] = {
                    "title": doc.title or doc.path,
                    "source": doc.source.name,
                    "link": link,
                }
    return out
