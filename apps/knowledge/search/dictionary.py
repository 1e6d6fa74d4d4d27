"""A printed English-Russian dictionary, read backwards: Russian words to English ones.

The multilingual encoder (crosslingual.py) links a Russian word to an English word of the
knowledge base only when it is sure (cosine >= MIN_SIMILARITY); for many words it is not:
"выбрасывает" (discards), "замаскировать" (mask), "шаблоны" (patterns). Mueller's
English-Russian dictionary (Debian's mueller7-dict, GPL, 46,000 headwords; installed by `make
system-packages`, KNOWLEDGE_DICTIONARY names the file) lists such words as one-word
translations of English headwords. Read backwards, it proposes English words for a Russian
one; the encoder then only has to agree that they are near (crosslingual.dictionary_words).
No line of it was written for this knowledge base or its evaluation questions.

Without the file the search goes on without it (logged once).
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
import zlib
from collections import defaultdict
from pathlib import Path

from django.conf import settings

from apps.knowledge.search.sparse import stem

log = logging.getLogger(__name__)

_HEADWORD = re.compile(r"[A-Za-z]+")
_RUSSIAN_WORD = re.compile(r"[а-яё]+(?:-[а-яё]+)?")
_ASIDES = re.compile(r"\([^)]*\)|\[[^\]]*\]|_[A-Za-zА-Яа-яЁё]+\.")
_NUMBERING = re.compile(r"^\s*(?:\d+\.|\d+\)|[а-я]\))\s*")

_lock = threading.Lock()
_loaded: dict[str, frozenset[str]] | None = None


def parse(text: str) -> dict[str, frozenset[str]]:
    """Russian stem -> the English headwords it is a one-word translation of. An entry is a
    headword at the start of a line, then its senses indented: "2) отбрасывать, выбрасывать
    (за ненадобностью)". Phrases, examples and glosses in brackets are not translations of
    the headword itself and are skipped."""
    found: dict[str, set[str]] = defaultdict(set)
    headword: str | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            word = line.strip()
            headword = word.lower() if _HEADWORD.fullmatch(word) else None
            continue
        if headword is None:
            continue
        body = _NUMBERING.sub("", _ASIDES.sub(" ", line).strip())
        for part in re.split(r"[;,]", body):
            part = _NUMBERING.sub("", part.strip()).strip(" .:!?").lower()
            if _RUSSIAN_WORD.fullmatch(part):
                found[stem(part)].add(headword)
    return {key: frozenset(words) for key, words in found.items()}


def _table() -> dict[str, frozenset[str]]:
    global _loaded
    with _lock:
        if _loaded is None:
            path = Path(settings.KNOWLEDGE_DICTIONARY) if settings.KNOWLEDGE_DICTIONARY else None
            try:
                if path is None:
                    raise FileNotFoundError("KNOWLEDGE_DICTIONARY is empty")
                with gzip.open(path, "rt", encoding="utf-8") as handle:
                    _loaded = parse(handle.read())
            except (OSError, UnicodeDecodeError, EOFError, zlib.error) as exc:
                log.info("no English-Russian dictionary (%s): %s", path, exc)
                _loaded = {}
        return _loaded


def english(russian_word: str) -> frozenset[str]:
    """The English headwords a Russian word (any form) translates, or none."""
    return _table().get(stem(russian_word.lower()), frozenset())


def forget() -> None:
    """Read the file again at the next question (tests, a changed setting)."""
    global _loaded
    with _lock:
        _loaded = None
