"""Russian question words to the knowledge base's own English words, with no hand list.

Google's multilingual sentence encoder (use-multilingual-v3, packaged with the portal) puts a
Russian word near its English translation: "пробелы" near "whitespace", "умолчанию" near
"default", "дублирующиеся" near "duplicate". Every English word of the indexed chunks is
embedded once, when it is first indexed (`learn`); a Russian question's words are embedded
and matched to the nearest of those words (`translate`). A match at cosine >= MIN_SIMILARITY
searches for the English word too: in the sparse query as a synonym, and in the dense query
of an English-only model. The admin glossary stays the override: a word it already expands
is not translated. Only words the knowledge base contains are ever proposed, so a
translation always has something to find. The same vectors re-score a Russian question's
candidates (`similarities`): a chunk is read as the mean of its English words' vectors, which
lies near the question's own vector when the chunk speaks of what the question asks, whatever
words the translation picked. A Russian word matched to nothing is looked up in a printed
dictionary (dictionary.py) whose English words the encoder then judges (`dictionary_words`).
KNOWLEDGE_CROSSLINGUAL=0 turns all of it off.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, F, Max

from apps.knowledge.search.sparse import STOPWORDS, language, stem

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
# The share of a Russian question's candidate score that is its words' closeness
# (`similarities`), the rest being its fused rank; chosen on the existing set, checked on the
# blind set (docs/benchmarks.md, "Candidates re-scored by their English words").
RESCORE_WEIGHT = 0.35
# A word of the model's translation is searched for only when a Russian word of the question
# is this near it (`confirmed`): nearer than nine in ten unrelated pairs of a Russian question
# word and a knowledge-base word are (their cosines: median 0.30, 90th percentile 0.44, 99th
# 0.59, on the existing set's Russian words; docs/benchmarks.md, "Translated words the question
# vouches for"). A word's right translation is usually far nearer (median best match 0.82).
CONFIRM = 0.45
# A printed dictionary's translation (dictionary.py) of a Russian word the encoder could not
# match is searched for when the encoder puts the two at least this near, at most
# DICTIONARY_WORDS of them per Russian word (docs/benchmarks.md, "A printed dictionary").
DICTIONARY_CONFIRM = 0.5
DICTIONARY_WORDS = 3
CACHE_SECONDS = 30.0
MAX_MATCHED = 50_000  # Russian words whose matches and vectors are kept between questions

_ENGLISH = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][a-z]{2,31}(?![A-Za-z0-9_])")
_RUSSIAN = re.compile(r"[А-Яа-яЁё]{3,}")


def enabled() -> bool:
    return bool(getattr(settings, "KNOWLEDGE_CROSSLINGUAL", True))


def _encoder() -> Any:
    from apps.knowledge.store.embeddings import word_encoder

    return word_encoder()


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


@dataclass
class Vocabulary:
    """The learned words at one moment: their vectors (rows of `matrix`), and what Russian
    question words were matched to them and encoded as so far."""

    words: list[str] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 512), dtype=np.float32))
    index: dict[str, int] = field(default_factory=dict)
    matched: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    russian: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(cls, words: list[str], matrix: np.ndarray) -> Vocabulary:
        return cls(words, matrix, {w: i for i, w in enumerate(words)})


class _Vocabulary:
    """The words seen in at least MIN_CHUNKS chunks and their vectors, reloaded when the
    table changes (checked every CACHE_SECONDS)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checked = 0.0
        self.stamp: tuple[int, int | None] | None = None
        self.current = Vocabulary()

    def get(self) -> Vocabulary:
        from apps.knowledge.models import EnglishWord

        with self.lock:
            if time.monotonic() - self.checked < CACHE_SECONDS:
                return self.current
            rows = EnglishWord.objects.filter(chunks__gte=MIN_CHUNKS)
            agg = rows.aggregate(n=Count("id"), last=Max("id"))
            stamp = (agg["n"], agg["last"])
            if stamp != self.stamp:
                pairs = list(rows.order_by("id").values_list("word", "vector"))
                matrix = (
                    np.vstack([np.frombuffer(bytes(v), dtype=np.float16) for _, v in pairs]).astype(
                        np.float32
                    )
                    if pairs
                    else np.zeros((0, 512), dtype=np.float32)
                )
                self.current = Vocabulary.of([w for w, _ in pairs], matrix)
                self.stamp = stamp
            if len(self.current.matched) + len(self.current.russian) > MAX_MATCHED:
                self.current = Vocabulary.of(self.current.words, self.current.matrix)
            self.checked = time.monotonic()
            return self.current


_vocabulary = _Vocabulary()


def invalidate() -> None:
    _vocabulary.checked = 0.0


def _russian_words(query: str) -> list[str]:
    words = dict.fromkeys(m.group(0).lower() for m in _RUSSIAN.finditer(query))
    return [w for w in words if w not in STOPWORDS][:MAX_WORDS]


def _vectors(vocabulary: Vocabulary, russian: list[str]) -> np.ndarray:
    """The multilingual vectors of Russian words, each encoded once per vocabulary: the
    search page's snippets expand the same question for every hit, and people ask with the
    same words again."""
    missing = [w for w in russian if w not in vocabulary.russian]
    if missing:
        for word, vector in zip(missing, _encoder().encode(missing), strict=True):
            vocabulary.russian[word] = vector
    return np.vstack([vocabulary.russian[w] for w in russian])


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def translate(query: str, covered: Collection[str] = ()) -> list[tuple[str, float]]:
    """English words of the knowledge base for the Russian words of a question, best first,
    as (word, cosine); Russian words whose stem is in `covered` (already expanded by the
    glossary) are left to it."""
    if not enabled():
        return []
    russian = [w for w in _russian_words(query) if stem(w) not in covered]
    if not russian:
        return []
    vocabulary = _vocabulary.get()
    if not vocabulary.words:
        return []
    found: dict[str, float] = {}
    for matches in _matches(vocabulary, russian).values():
        for english, score in matches:
            found[english] = max(found.get(english, 0.0), score)
    return sorted(found.items(), key=lambda p: -p[1])


def _matches(vocabulary: Vocabulary, russian: list[str]) -> dict[str, list[tuple[str, float]]]:
    """Each Russian word's nearest English words at cosine >= MIN_SIMILARITY (none when the
    encoder is not sure), computed once per vocabulary."""
    known = vocabulary.matched
    missing = [w for w in russian if w not in known]
    if missing:
        rows = _vectors(vocabulary, missing) @ vocabulary.matrix.T
        for word, row in zip(missing, rows, strict=True):
            top = float(row.max())
            known[word] = [
                (vocabulary.words[i], float(row[i]))
                for i in np.argsort(-row)[:3]
                if top >= MIN_SIMILARITY and float(row[i]) >= max(MIN_SIMILARITY, top - RUNNER_UP)
            ]
    return {w: known[w] for w in russian}


def dictionary_words(query: str) -> list[tuple[str, float]]:
    """English words of the knowledge base that the dictionary gives for the Russian words of
    a question translate() found nothing for, as (word, cosine): a dictionary lists every sense
    of a word ("выбрасывать": discard, emit, throw, belch...), the encoder says which of them
    are near enough to be meant. Like the model's translation, they may reorder candidates
    (in the sparse query only) but never count towards the relevance a hit shows."""
    from apps.knowledge.search import dictionary

    if not enabled():
        return []
    vocabulary = _vocabulary.get()
    asked = _russian_words(query)
    if not asked or not vocabulary.words:
        return []
    russian = [w for w, matches in _matches(vocabulary, asked).items() if not matches]
    if not russian:
        return []
    found: dict[str, float] = {}
    for word, vector in zip(russian, _vectors(vocabulary, russian), strict=True):
        offered = [e for e in dictionary.english(word) if e in vocabulary.index]
        near = sorted(
            ((e, float(vocabulary.matrix[vocabulary.index[e]] @ vector)) for e in offered),
            key=lambda p: (-p[1], p[0]),
        )
        for english, score in near[:DICTIONARY_WORDS]:
            if score >= DICTIONARY_CONFIRM:
                found[english] = max(found.get(english, 0.0), score)
    return sorted(found.items(), key=lambda p: (-p[1], p[0]))


def similarities(query: str, texts: list[str]) -> list[float] | None:
    """How near each text is to a Russian question in the multilingual encoder's space: the
    cosine between the mean vector of the text's learned English words and the question's
    (its sentence vector plus the mean of its Russian words' vectors). Rank fusion knows only
    positions; this knows that "дублирующиеся события" is what a page about duplicate events
    speaks of. None for a question that is not Russian, or before any word is learned."""
    if not enabled() or not texts or language(query) != "ru":
        return None
    russian = _russian_words(query)
    vocabulary = _vocabulary.get()
    if not russian or not vocabulary.words:
        return None
    question = _unit(
        _unit(_encoder().encode([query])[0]) + _unit(_vectors(vocabulary, russian).sum(0))
    )
    out = []
    for text in texts:
        rows = [vocabulary.index[w] for w in english_words(text) if w in vocabulary.index]
        out.append(float(_unit(vocabulary.matrix[rows].sum(0)) @ question) if rows else 0.0)
    return out


def confirmed(query: str, translated: str) -> str:
    """The words of the model's translation of a Russian question that the question's own
    words vouch for: a plain English word is kept when it is in the question as written or
    some Russian word of the question is at least CONFIRM near it; identifiers and numbers
    (the model was told to copy those) are kept. A small model fills what it cannot
    translate with words of its own ("the counters in the wallet", "play with the
    joystick"); searched for, they would bring up pages about something else. Only the
    sparse query reads this (the dense one reads the whole sentence), and a snippet marks
    only these words."""
    if not enabled() or not translated:
        return translated
    russian = _russian_words(query)
    vocabulary = _vocabulary.get()
    if not russian or not vocabulary.words:
        return translated
    vectors = _vectors(vocabulary, russian)
    asked = english_words(query)
    kept = []
    for token in translated.split():
        words = english_words(token)
        if not words or words <= asked:
            kept.append(token)
            continue
        rows = [vocabulary.index[w] for w in words if w in vocabulary.index]
        if rows and float((vocabulary.matrix[rows] @ vectors.T).max()) >= CONFIRM:
            kept.append(token)
    return " ".join(kept)
