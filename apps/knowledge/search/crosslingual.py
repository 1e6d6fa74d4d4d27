"""Russian question words to the knowledge base's own English words, with no hand list.

Google's multilingual sentence encoder (use-multilingual-v3, packaged with the portal) puts a
Russian word near its English translation: "пробелы" near "whitespace", "умолчанию" near
"default", "дублирующиеся" near "duplicate". Every English word of the indexed chunks is
embedded once, when it is first indexed (`learn`); a Russian question's words are embedded
and matched to the nearest of those words (`translate`). A match at cosine >= MIN_SIMILARITY
searches for the English word too: in the sparse query as a synonym, and in the dense query
of an English-only model. The admin glossary stays the override: a word it already expands
is not translated. Only words the knowledge base contains are ever proposed, so a
translation always has something to find. KNOWLEDGE_CROSSLINGUAL=0 turns it off.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterable
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, F, Max

from apps.knowledge.search.sparse import STOPWORDS, stem

# Chosen on bench/eval/corpus_questions.jsonl, checked on the blind set (docs/benchmarks.md,
# "Russian words to English ones").
MIN_SIMILARITY = 0.75
# A second English word is added when it is this close to the best one (duplicate, duplicates).
RUNNER_UP = 0.05
MIN_CHUNKS = 2
# Russian words of one question translated at most (a pasted page is not a question).
MAX_WORDS = 40
# A translation's weight in the sparse query (the question's own words: 1.0).
WEIGHT = 0.6
CACHE_SECONDS = 30.0
MAX_MATCHED = 50_000  # Russian words whose matches are kept between questions

_ENGLISH = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][a-z]{2,31}(?![A-Za-z0-9_])")
_RUSSIAN = re.compile(r"[А-Яа-яЁё]{3,}")


def enabled() -> bool:
    return bool(getattr(settings, "KNOWLEDGE_CROSSLINGUAL", True))


def _encoder() -> Any:
    from apps.knowledge.store.embeddings import USE_MULTILINGUAL, get_embedder

    return get_embedder(USE_MULTILINGUAL)


def english_words(text: str) -> set[str]:
    """The plain English words of a text (no identifiers, no stopwords), lower-cased."""
    out = set()
    for match in _ENGLISH.finditer(text):
        word = match.group(0).lower()
        if word not in STOPWORDS:
            out.add(word)
    return out


def learn(texts: Iterable[str]) -> int:
    """Record the English words of freshly indexed chunks; embed the ones never seen before.
    Returns how many words were new. Safe to run from several workers at once."""
    from apps.knowledge.models import EnglishWord

    if not enabled():
        return 0
    seen: Counter[str] = Counter()
    for text in texts:
        seen.update(english_words(text))
    if not seen:
        return 0
    known = set(EnglishWord.objects.filter(word__in=list(seen)).values_list("word", flat=True))
    EnglishWord.objects.filter(word__in=list(known), chunks__lt=MIN_CHUNKS).update(
        chunks=F("chunks") + 1
    )
    new = sorted(w for w in seen if w not in known)
    if new:
        vectors = _encoder().encode(new).astype(np.float16)
        EnglishWord.objects.bulk_create(
            [
                EnglishWord(word=w, chunks=min(seen[w], MIN_CHUNKS), vector=v.tobytes())
                for w, v in zip(new, vectors, strict=True)
            ],
            ignore_conflicts=True,  # another worker learned it meanwhile
            batch_size=500,
        )
    return len(new)


class _Vocabulary:
    """The words seen in at least MIN_CHUNKS chunks and their vectors, reloaded when the
    table changes (checked every CACHE_SECONDS)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checked = 0.0
        self.stamp: tuple[int, int | None] | None = None
        self.words: list[str] = []
        self.matrix = np.zeros((0, 512), dtype=np.float32)
        self.matched: dict[str, list[tuple[str, float]]] = {}

    def get(self) -> tuple[list[str], np.ndarray, dict[str, list[tuple[str, float]]]]:
        """The words, their vectors, and the Russian words matched to them so far."""
        from apps.knowledge.models import EnglishWord

        with self.lock:
            if time.monotonic() - self.checked < CACHE_SECONDS:
                return self.words, self.matrix, self.matched
            rows = EnglishWord.objects.filter(chunks__gte=MIN_CHUNKS)
            agg = rows.aggregate(n=Count("id"), last=Max("id"))
            stamp = (agg["n"], agg["last"])
            if stamp != self.stamp:
                pairs = list(rows.order_by("id").values_list("word", "vector"))
                self.words = [w for w, _ in pairs]
                self.matrix = (
                    np.vstack([np.frombuffer(bytes(v), dtype=np.float16) for _, v in pairs]).astype(
                        np.float32
                    )
                    if pairs
                    else np.zeros((0, 512), dtype=np.float32)
                )
                self.stamp = stamp
                self.matched = {}
            if len(self.matched) > MAX_MATCHED:
                self.matched = {}
            self.checked = time.monotonic()
            return self.words, self.matrix, self.matched


_vocabulary = _Vocabulary()


def invalidate() -> None:
    _vocabulary.checked = 0.0


def translate(query: str, covered: Collection[str] = ()) -> list[tuple[str, float]]:
    """English words of the knowledge base for the Russian words of a question, best first,
    as (word, cosine); Russian words whose stem is in `covered` (already expanded by the
    glossary) are left to it."""
    if not enabled():
        return []
    russian = list(dict.fromkeys(m.group(0).lower() for m in _RUSSIAN.finditer(query)))
    russian = [w for w in russian if w not in STOPWORDS and stem(w) not in covered][:MAX_WORDS]
    if not russian:
        return []
    words, matrix, known = _vocabulary.get()
    if not words:
        return []
    # Each Russian word is matched once per vocabulary: the search page's snippets expand the
    # same question for every hit, and people ask with the same words again.
    missing = [w for w in russian if w not in known]
    if missing:
        for word, row in zip(missing, _encoder().encode(missing) @ matrix.T, strict=True):
            top = float(row.max())
            known[word] = [
                (words[i], float(row[i]))
                for i in np.argsort(-row)[:3]
                if top >= MIN_SIMILARITY and float(row[i]) >= max(MIN_SIMILARITY, top - RUNNER_UP)
            ]
    found: dict[str, float] = {}
    for word in russian:
        for english, score in known[word]:
            found[english] = max(found.get(english, 0.0), score)
    return sorted(found.items(), key=lambda p: -p[1])
