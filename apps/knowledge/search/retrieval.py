"""Permission-aware hybrid retrieval: `search(user, query, k, filters)`.

Every query is filtered inside Qdrant by the sources the user may read (admins: all enabled
sources; others: sources with no groups or sharing a group with them), so a chunk the user
may not read is never even a candidate - whatever the query says, verbatim quotes included.
Dense and sparse candidates are fused with reciprocal rank fusion by Qdrant's query API;
at most a few chunks per document are kept. A chunk whose heading names an identifier the
query spells out exactly (PG_DEGRADED, proxy_pass; sections.in_query) ranks above the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from qdrant_client import models as qm

from apps.accounts.roles import is_portal_admin, user_group_names
from apps.knowledge.models import Collection, Source
from apps.knowledge.search import crosslingual, english, glossary, sections
from apps.knowledge.search.sparse import LATIN_TOKEN, language, query_vector, terms
from apps.knowledge.store import qdrant
from apps.knowledge.store.embeddings import BothEmbedder, get_embedder, get_reranker

MAX_PER_DOCUMENT = 2
# Added to the rank score of a chunk whose heading names an identifier the query names:
# larger than any fused (RRF, < 0.1) or reranker score, so such sections come first.
EXACT_SECTION_BONUS = 100.0


@dataclass
class Hit:
    chunk_id: str
    text: str
    title: str
    section: str
    link: str
    version: str
    source: str
    source_id: int
    document_id: str
    path: str
    score: float  # fused rank score (or reranker score); order, not confidence
    language: str
    # 0..1 confidence: the larger of the dense cosine similarity and the share of the query's
    # terms (or their glossary synonyms) found in the chunk.
    relevance: float = 0.0


def readable_source_ids(user: Any) -> list[int]:
    sources = Source.objects.filter(enabled=True)
    if not is_portal_admin(user):
        if not user or not user.is_authenticated:
            return []
        groups = user_group_names(user)
        sources = sources.filter(allowed_groups__isnull=True) | sources.filter(
            allowed_groups__name__in=groups
        )
    return sorted(set(sources.values_list("pk", flat=True)))


def access_filter(user: Any, source_ids: list[int], doc_keys: list[str] | None = None) -> qm.Filter:
    must: list[Any] = [qm.FieldCondition(key="source_id", match=qm.MatchAny(any=source_ids))]
    if doc_keys is not None:
        must.append(qm.FieldCondition(key="doc", match=qm.MatchAny(any=doc_keys)))
    if not is_portal_admin(user):
        # Checked twice on purpose: by the source list above and by the groups each chunk
        # carries, so a stale source list alone can never leak a restricted chunk.
        groups = [*user_group_names(user), qdrant.PUBLIC]
        must.append(qm.FieldCondition(key="groups", match=qm.MatchAny(any=groups)))
    return qm.Filter(must=must)


def _safe_link(link: object) -> str:
    # Links end up in href attributes: only web links, never javascript: or data: URLs.
    text = str(link or "")
    return text if text.startswith(("https://", "http://")) else ""


def _hit(point: qm.ScoredPoint, relevance: float) -> Hit:
    p = point.payload or {}
    return Hit(
        chunk_id=str(point.id),
        text=str(p.get("text", "")),
        title=str(p.get("title", "")),
        section=str(p.get("section", "")),
        link=_safe_link(p.get("link")),
        version=str(p.get("version", "")),
        source=str(p.get("source", "")),
        source_id=int(p.get("source_id", 0)),
        document_id=str(p.get("document_id", "")),
        path=str(p.get("path", "")),
        score=float(point.score),
        language=str(p.get("language", "")),
        relevance=relevance,
    )


def _lexical(weighted: dict[str, float], base: set[str], text: str) -> float:
    """Share of the query's own terms found in the chunk; a term missing but standing in for
    by a glossary synonym counts 0.6."""
    if not base:
        return 0.0
    present = set(terms(text))
    found = len(base & present)
    synonyms = sum(1 for t in weighted if t not in base and t in present)
    return min(1.0, (found + 0.6 * min(synonyms, len(base) - found)) / len(base))


def dense_query(query: str, english: list[str], english_only: bool | None = None) -> str:
    """The text embedded for the dense half. An English-only model (the default) gets no
    Cyrillic, which only adds noise to its vector: a Russian query is represented by its
    Latin words (product names, error messages) plus the English glossary synonyms of its
    terms."""
    if english_only is None:
        english_only = not settings.EMBEDDING_MODEL
    if not english_only or language(query) != "ru":
        return f"{query} ({', '.join(english)})" if english else query
    parts = LATIN_TOKEN.findall(query) + english
    return " ".join(parts) if parts else query


def query_embedding(model: str, query: str, english: list[str]) -> np.ndarray:
    """The question's dense vector in the active collection's model. With both packaged
    models side by side, each language leans on the model that reads it
    (EMBEDDING_MINILM_SHARE_EN / _RU: MiniLM's share of the question's vector)."""
    embedder = get_embedder(model)
    if isinstance(embedder, BothEmbedder):
        share = (
            settings.EMBEDDING_MINILM_SHARE_RU
            if language(query) == "ru"
            else settings.EMBEDDING_MINILM_SHARE_EN
        )
        return embedder.encode_query(
            dense_query(query, english, english_only=True),
            dense_query(query, english, english_only=False),
            share,
        )
    return embedder.encode([dense_query(query, english)])[0]


@dataclass
class Page:
    """One document of a results list: its best chunk first, then its other sections among
    the k best chunks."""

    hits: list[Hit]

    @property
    def best(self) -> Hit:
        return self.hits[0]


@dataclass
class Results:
    hits: list[Hit]  # what search() returns: the k best chunks, at most 2 of one document
    pages: list[Page]  # the k best documents, each with its sections among `hits`


def search(
    user: Any,
    query: str,
    k: int = 8,
    filters: dict[str, Any] | None = None,
    *,
    mode: str = "hybrid",
    per_document: int = MAX_PER_DOCUMENT,
) -> list[Hit]:
    """The k best chunks the user may read, at most `per_document` of one document.
    filters: {"source_ids": [...]} narrows the sources, {"doc_keys": [...]} the documents
    (qdrant.doc_key); mode "dense" or "sparse" is for the evaluation bench and exact-term
    lookups."""
    return _capped(_ranked(user, query, k, filters, mode), k, per_document)


def results(
    user: Any,
    query: str,
    k: int = 8,
    filters: dict[str, Any] | None = None,
    *,
    mode: str = "hybrid",
) -> Results:
    """search()'s chunks, and the list a reader scans: k different documents, each shown by
    its best chunk with its other sections among those chunks under it. Two sections of one
    page no longer take two of the first k places from a sibling page that may be the one
    asked about (docs/benchmarks.md, "One entry per page")."""
    ranked = _ranked(user, query, k, filters, mode)
    hits = _capped(ranked, k, MAX_PER_DOCUMENT)
    shown = {h.chunk_id for h in hits}
    pages: dict[tuple[int, str], Page] = {}
    for hit in ranked:
        key = (hit.source_id, hit.document_id)
        if key in pages:
            if hit.chunk_id in shown and len(pages[key].hits) < MAX_PER_DOCUMENT:
                pages[key].hits.append(hit)
        elif len(pages) < k:
            pages[key] = Page([hit])
    return Results(hits, list(pages.values()))


def _capped(ranked: list[Hit], k: int, per_document: int) -> list[Hit]:
    per_doc: dict[tuple[int, str], int] = {}
    out: list[Hit] = []
    for hit in ranked:
        key = (hit.source_id, hit.document_id)
        if per_doc.get(key, 0) >= per_document:
            continue
        per_doc[key] = per_doc.get(key, 0) + 1
        out.append(hit)
        if len(out) >= k:
            break
    return out


def _ranked(user: Any, query: str, k: int, filters: dict[str, Any] | None, mode: str) -> list[Hit]:
    """Every candidate chunk the user may read, best first (k sizes the candidate pool)."""
    query = (query or "").strip()
    if not query or k <= 0:
        return []
    source_ids = readable_source_ids(user)
    wanted = (filters or {}).get("source_ids")
    if wanted:
        source_ids = [s for s in source_ids if s in {int(x) for x in wanted}]
    if not source_ids:
        return []
    active = Collection.objects.filter(state=Collection.State.ACTIVE).first()
    if active is None:
        return []
    weighted, words = glossary.expand(query)
    # The relevance a chunk shows counts the question's words and the glossary's, never the
    # model's translation (english.py) or the dictionary's words: they may reorder
    # candidates, not invent an answer.
    shown = weighted
    if mode == "hybrid":
        # A dictionary's guesses (crosslingual.dictionary_words) weigh in the sparse half as
        # the model's translation does: 0.6 cost a Russian question its place in the gate's
        # first three (docs/benchmarks.md, "A printed dictionary").
        guessed = terms(" ".join(w for w, _ in crosslingual.dictionary_words(query)))
        weighted = {**dict.fromkeys(guessed, english.WEIGHT), **weighted}
    translated = english.question(query) if mode != "sparse" else ""
    if translated:
        words = [translated, *(w for w in words if w.lower() not in translated.lower())]
        vouched = crosslingual.confirmed(query, translated)
        weighted = {**{t: english.WEIGHT for t in terms(vouched)}, **weighted}
    base = set(terms(query))
    # An exact-term lookup (sparse) needs no embedding; its relevance is the term share.
    qvec = query_embedding(active.model, query, words) if mode != "sparse" else None
    candidates = max(k * 5, 40)
    points = qdrant.hybrid_query(
        qdrant.alias(),
        qvec.tolist() if qvec is not None else None,
        query_vector(weighted) if mode in ("hybrid", "sparse") else None,
        access_filter(user, source_ids, (filters or {}).get("doc_keys")),
        limit=candidates,
    )
    # The default model (all-MiniLM-L6-v2) is English-only: it gives unrelated Cyrillic texts
    # cosines of 0.4-0.6, so for a Russian query its similarity is worth less as evidence.
    dense_weight = 0.8 if (not settings.EMBEDDING_MODEL and language(query) == "ru") else 1.0
    named = sections.in_query(query)
    hits = []
    exact: set[str] = set()
    for point in points:
        vec = point.vector.get(qdrant.DENSE) if isinstance(point.vector, dict) else None
        cosine = (
            float(np.dot(np.asarray(vec, dtype=np.float32), qvec))
            if vec is not None and qvec is not None
            else 0.0
        )
        text = str((point.payload or {}).get("text", ""))
        hit = _hit(point, max(cosine * dense_weight, _lexical(shown, base, text)))
        if named and named & set(sections.of_path((hit.title, *hit.section.split(" > ")))):
            exact.add(hit.chunk_id)
        hits.append(hit)
    hits = _rerank(query, hits) if get_reranker() else _nearer_words(query, hits, mode)
    for hit in hits:
        if hit.chunk_id in exact:
            # The section is named by its heading: first, whatever the fused rank said (the
            # rank scores stay in order among the named sections themselves).
            hit.score += EXACT_SECTION_BONUS
    # Fused scores tie (one chunk first in the dense list, another in the sparse one), and
    # Qdrant returns ties in no set order: the same question must cite the same chunks.
    hits.sort(key=lambda h: (-h.score, -h.relevance, h.chunk_id))
    return hits


def _spread(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    return [(v - low) / (high - low) if high > low else 0.0 for v in values]


def _nearer_words(query: str, hits: list[Hit], mode: str) -> list[Hit]:
    """A Russian question's hybrid candidates, re-scored: the fused rank (positions only)
    blended with how near each chunk's English words are to the question in the multilingual
    encoder's space (crosslingual.similarities), so the page that speaks of what was asked
    comes before one that shares a translated general word. Only with the English-only
    default model: a multilingual EMBEDDING_MODEL already brings the question's meaning into
    the fused rank, chunk by chunk (docs/benchmarks.md). English questions and the
    single-mode lookups keep the fused order, and so does a Russian chunk among the
    candidates: its words are not in the English vocabulary, so its closeness is unknown and
    counts as its rank."""
    if mode != "hybrid" or len(hits) < 2 or settings.EMBEDDING_MODEL:
        return hits
    in_english = [h for h in hits if h.language != "ru"]
    near = crosslingual.similarities(query, [f"{h.title} {h.section} {h.text}" for h in in_english])
    if near is None or len(in_english) < 2:
        return hits
    ranks = dict(zip((h.chunk_id for h in hits), _spread([h.score for h in hits]), strict=True))
    words = dict(zip((h.chunk_id for h in in_english), _spread(near), strict=True))
    weight = crosslingual.RESCORE_WEIGHT
    for hit in hits:
        rank = ranks[hit.chunk_id]
        hit.score = (1 - weight) * rank + weight * words.get(hit.chunk_id, rank)
    return sorted(hits, key=lambda h: -h.score)


def _rerank(query: str, hits: list[Hit]) -> list[Hit]:
    """The configured cross-encoder's order (it reads the question and each chunk)."""
    model = get_reranker()
    if model is None or not hits:
        return hits
    scores = model.predict([(query, f"{h.title} {h.section}\n{h.text}") for h in hits])
    for hit, score in zip(hits, scores, strict=True):
        hit.score = float(score)
    return sorted(hits, key=lambda h: h.score, reverse=True)
