"""The RU<->EN ops glossary: sets of interchangeable terms that expand search queries.

Engineers ask in Russian jargon ("под в крашлупе", "кончились иноды") about documents written
in English ("CrashLoopBackOff", "out of inodes"). Each entry is a set of synonyms; a query
containing one of them also searches for the others, in the sparse (BM25) query always and in
the dense query when the embedding model is English-only. Russian words the glossary does not
know are matched to English words of the knowledge base by a multilingual model
(crosslingual.py); the glossary is the override.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from apps.knowledge.search import crosslingual
from apps.knowledge.search.sparse import stem, terms

CACHE_SECONDS = 30.0
SYNONYM_WEIGHT = 0.6  # a synonym's weight in the sparse query (the query's own terms: 1.0)


@dataclass(frozen=True)
class _Entry:
    variants: tuple[tuple[str, ...], ...]  # each synonym as its stemmed words
    latin: tuple[str, ...]  # the English synonyms, for the dense query


_cache: tuple[float, list[_Entry]] | None = None


def invalidate() -> None:
    global _cache
    _cache = None


def _entries() -> list[_Entry]:
    global _cache
    if _cache and time.monotonic() - _cache[0] < CACHE_SECONDS:
        return _cache[1]
    from apps.knowledge.models import GlossaryEntry

    entries = []
    for row in GlossaryEntry.objects.all():
        synonyms = row.term_list()
        variants = tuple(tuple(terms(s)) for s in synonyms if terms(s))
        latin = tuple(s for s in synonyms if s.isascii())
        if variants:
            entries.append(_Entry(variants, latin))
    _cache = (time.monotonic(), entries)
    return entries


def _contains(haystack: list[str], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(tuple(haystack[i : i + n]) == needle for i in range(len(haystack) - n + 1))


def english_for(text: str) -> list[str]:
    """The English synonyms of the glossary terms found in a (Russian) text, fast enough to
    run on every chunk: single-word variants by set lookup, phrases only when their first
    word is present."""
    found = terms(text)
    present = set(found)
    out: list[str] = []
    for entry in _entries():
        for variant in entry.variants:
            if variant[0] in present and (len(variant) == 1 or _contains(found, variant)):
                out.extend(entry.latin)
                break
    return list(dict.fromkeys(out))


def expand(query: str) -> tuple[dict[str, float], list[str]]:
    """The query's weighted stemmed terms (originals 1.0, synonyms 0.6) and the English
    synonyms, for the dense query: the glossary's first, then the knowledge base's English
    words for the Russian words it does not cover (crosslingual.py)."""
    base = terms(query)
    weighted: dict[str, float] = dict.fromkeys(base, 1.0)
    english: list[str] = []
    covered: set[str] = set()
    for entry in _entries():
        matched = [variant for variant in entry.variants if _contains(base, variant)]
        if not matched:
            continue
        for variant in matched:
            covered.update(variant)
        for variant in entry.variants:
            for term in variant:
                weighted.setdefault(term, SYNONYM_WEIGHT)
        english.extend(s for s in entry.latin if s.lower() not in query.lower())
    for word, _similarity in crosslingual.translate(query, covered):
        for term in terms(word):
            weighted.setdefault(term, crosslingual.WEIGHT)
        if word not in english:
            english.append(word)
    return weighted, english


__all__ = ["english_for", "expand", "invalidate", "stem"]
