"""Text analysis shared by indexing and queries: language, stemmed terms, sparse vectors.

The sparse vector is BM25-style: document term weights use BM25's saturated term frequency
and length normalisation, and Qdrant's IDF modifier supplies the inverse document frequency
at query time. Russian and English words are stemmed with Snowball so "перезапускается" and
"перезапуск", "restarts" and "restart" meet.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[0-9a-zа-яё_]+(?:[.\-][0-9a-zа-яё_]+)*", re.I)
_CYRILLIC = re.compile(r"[а-яё]", re.I)
_LATIN = re.compile(r"[a-z]", re.I)
# Words in Latin script inside Russian text: commands, product names, error messages.
LATIN_TOKEN = re.compile(r"[A-Za-z][\w.\-/:]*")

K1 = 1.2
B = 0.75
AVG_LEN = 120.0

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "do",
        "does",
        "can",
        "not",
        "no",
        "yes",
        "we",
        "our",
        "so",
        "than",
        "also",
        "may",
        "should",
        "would",
        "could",
        "been",
        "being",
        "were",
        "и",
        "в",
        "во",
        "не",
        "что",
        "он",
        "на",
        "я",
        "с",
        "со",
        "как",
        "а",
        "то",
        "все",
        "она",
        "так",
        "его",
        "но",
        "да",
        "ты",
        "к",
        "у",
        "же",
        "вы",
        "за",
        "бы",
        "по",
        "только",
        "ее",
        "её",
        "мне",
        "было",
        "вот",
        "от",
        "меня",
        "еще",
        "ещё",
        "нет",
        "о",
        "из",
        "ему",
        "теперь",
        "когда",
        "даже",
        "ну",
        "вдруг",
        "ли",
        "если",
        "уже",
        "или",
        "ни",
        "быть",
        "был",
        "него",
        "до",
        "вас",
        "нибудь",
        "опять",
        "уж",
        "вам",
        "ведь",
        "там",
        "потом",
        "себя",
        "ничего",
        "ей",
        "может",
        "они",
        "тут",
        "где",
        "есть",
        "надо",
        "ней",
        "для",
        "мы",
        "тебя",
        "их",
        "чем",
        "была",
        "сам",
        "чтоб",
        "без",
        "будто",
        "чего",
        "раз",
        "тоже",
        "себе",
        "под",
        "будет",
        "ж",
        "тогда",
        "кто",
        "этот",
        "того",
        "потому",
        "этого",
        "какой",
        "совсем",
        "ним",
        "здесь",
        "этом",
        "один",
        "почти",
        "мой",
        "тем",
        "чтобы",
        "нее",
        "неё",
        "сейчас",
        "были",
        "куда",
        "зачем",
        "всех",
        "никогда",
        "можно",
        "при",
        "наконец",
        "два",
        "об",
        "другой",
        "хоть",
        "после",
        "над",
        "больше",
        "тот",
        "через",
        "эти",
        "нас",
        "про",
        "всего",
        "них",
        "какая",
        "много",
        "разве",
        "три",
        "эту",
        "моя",
        "впрочем",
        "хорошо",
        "свою",
        "этой",
        "перед",
        "иногда",
        "лучше",
        "чуть",
        "том",
        "нельзя",
        "такой",
        "им",
        "более",
        "всегда",
        "конечно",
        "всю",
        "между",
        "делать",
        "как-то",
        "что-то",
    ]
)
# "под" is a stop word in Russian prose but the Kubernetes "pod" in ops speech.
STOPWORDS = STOPWORDS - {"под"}

_EN = snowballstemmer.stemmer("english")
_RU = snowballstemmer.stemmer("russian")


def language(text: str) -> str:
    sample = text[:4000]
    cyr = len(_CYRILLIC.findall(sample))
    lat = len(_LATIN.findall(sample))
    if not cyr and not lat:
        return ""
    return "ru" if cyr >= lat * 0.3 else "en"


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    word = word.lower().replace("ё", "е")
    if _CYRILLIC.search(word):
        return _RU.stemWord(word)
    if word.isascii() and word.isalpha():
        return _EN.stemWord(word)
    return word


def terms(text: str) -> list[str]:
    """Stemmed terms; dotted/dashed names (kube-apiserver, node.js) also count whole."""
    out: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0).lower()
        if word in STOPWORDS or len(word) > 60:
            continue
        if "." in word or "-" in word:
            out.append(word)
            out.extend(stem(p) for p in re.split(r"[.\-]", word) if p and p not in STOPWORDS)
        else:
            out.append(stem(word))
    return out


def term_index(term: str) -> int:
    # crc32 is stable across processes (unlike hash()); collisions only blur two rare terms.
    return zlib.crc32(term.encode()) & 0x7FFFFFFF


def document_vector(text: str) -> tuple[list[int], list[float]]:
    counts = Counter(terms(text))
    length = sum(counts.values()) or 1
    weights: dict[int, float] = {}
    for term, tf in counts.items():
        weight = tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / AVG_LEN))
        idx = term_index(term)
        weights[idx] = max(weights.get(idx, 0.0), weight)
    indices = sorted(weights)
    return indices, [weights[i] for i in indices]


def query_vector(weighted_terms: dict[str, float]) -> tuple[list[int], list[float]]:
    weights: dict[int, float] = {}
    for term, weight in weighted_terms.items():
        idx = term_index(term)
        weights[idx] = max(weights.get(idx, 0.0), weight)
    indices = sorted(weights)
    return indices, [weights[i] for i in indices]
