"""Indexed documents read back whole: found by a link or a path, then section by section.

Search returns chunks; a caller that quotes a document's own structure (a scenario showing a
runbook's diagnosis steps) needs the document itself, in order, under its headings. It is
read from the index (what was indexed is what is cited), with the reader's permissions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

from qdrant_client import models as qm

from apps.knowledge.models import Document
from apps.knowledge.search.retrieval import readable_source_ids
from apps.knowledge.store import qdrant

SECTION_SEPARATOR = " > "  # how indexing joins a chunk's heading path


@dataclass(frozen=True)
class Section:
    path: tuple[str, ...]  # headings below the document's title
    text: str


def _stem(path: str) -> str:
    return PurePosixPath(path).stem.lower()


def resolve(user: Any, reference: str) -> Document | None:
    """The indexed document a link or path names, among those `user` may read.

    A link matches a document's own link exactly (fragment and trailing slash ignored).
    Otherwise the longest document path that ends the reference's path wins, so a Git web
    link ".../-/blob/main/runbooks/DiskFull.md" finds "runbooks/DiskFull.md" of a directory
    source; extensions may differ (".../runbooks/DiskFull" or a rendered ".html")."""
    ref = (reference or "").strip()
    if not ref or len(ref) > 2000:
        return None
    sources = readable_source_ids(user)
    if not sources:
        return None
    docs = Document.objects.filter(source_id__in=sources, chunk_count__gt=0)
    base = ref.split("#", 1)[0].rstrip("/")
    exact = docs.filter(link__in=[base, base + "/"]).order_by("-indexed_at").first()
    if exact is not None:
        return exact
    wanted = unquote(urlparse(base).path if "://" in base else base).strip("/")
    if not wanted:
        return None
    wanted_stemless = str(PurePosixPath(wanted).with_suffix("")).lower()
    stem = _stem(wanted)
    best: tuple[int, Any, Document] | None = None
    for doc in docs.filter(path__icontains=stem).only("id", "path", "indexed_at", "source_id"):
        path = doc.path.strip("/")
        plain = str(PurePosixPath(path).with_suffix("")).lower()
        if wanted == path or wanted.endswith("/" + path):
            score = len(path) * 2 + 1  # the same file name, extension included
        elif wanted_stemless == plain or wanted_stemless.endswith("/" + plain):
            score = len(plain) * 2
        else:
            continue
        key = (score, doc.indexed_at.timestamp() if doc.indexed_at else 0.0, doc)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        return None
    return Document.objects.select_related("source").get(pk=best[2].pk)


def _without_overlap(previous: str, text: str) -> str:
    """Drop the paragraphs a chunk repeats from the one before it in the same section (the
    chunker's overlap), so the section reads as written."""
    seen = set(p.strip() for p in previous.split("\n\n"))
    kept: list[str] = []
    for para in text.split("\n\n"):
        stripped = para.strip()
        if stripped and (stripped in seen or (kept == [] and stripped in previous)):
            continue
        kept.append(para)
    return "\n\n".join(kept)


def sections(user: Any, doc: Document) -> list[Section] | None:
    """The document's sections in order (None when `user` may not read it)."""
    if doc.source_id not in readable_source_ids(user):
        return None
    key = qdrant.doc_key(doc.source_id, doc.external_id)
    flt = qm.Filter(must=[qm.FieldCondition(key="doc", match=qm.MatchValue(value=key))])
    points: list[Any] = []
    offset = None
    with qdrant.locked() as qc:
        if not qc.collection_exists(qdrant.alias()):
            return []
        while True:
            batch, offset = qc.scroll(
                qdrant.alias(),
                scroll_filter=flt,
                limit=256,
                offset=offset,
                with_payload=["section", "text", "chunk_index", "title"],
                with_vectors=False,
            )
            points += batch
            if offset is None:
                break
    points.sort(key=lambda p: int((p.payload or {}).get("chunk_index", 0)))
    out: list[Section] = []
    for point in points:
        payload = point.payload or {}
        path = tuple(h for h in str(payload.get("section", "")).split(SECTION_SEPARATOR) if h)
        if path and path[0] == (doc.title or payload.get("title")):
            path = path[1:]  # the title heads every section of a Markdown document
        text = str(payload.get("text", ""))
        if out and out[-1].path == path:
            out[-1] = Section(path, out[-1].text + "\n\n" + _without_overlap(out[-1].text, text))
        else:
            out.append(Section(path, text))
    return out
