"""A Russian question read in English by the language model, for retrieval.

Most of the knowledge base is English manuals, and the default embedding model reads English
only: a Russian question reaches it as its Latin words and the English words the glossary and
the multilingual word matches found (crosslingual.py), which is often too little to tell the
page that answers from its general neighbour. The fast tier translates the question once (a
few dozen tokens), and the translation joins the question: its text in the dense query, and
in the sparse one at WEIGHT those of its words the question vouches for
(crosslingual.confirmed: a small model fills what it cannot translate with words of its
own). Even the development model (gemma-3-270m, a base model) translates well enough to
gain (docs/benchmarks.md, "Russian questions translated by the model"); a production model
translates better.

What the translation may change is the order of the candidates, not whether there is an
answer: the relevance gate's lexical half counts the question's own words and the glossary's,
never the translation's (a loose translation must not make an unanswerable question look
answered). A model that fails or is slow costs one search at most
KNOWLEDGE_TRANSLATION_SECONDS, then Russian searches go on without it for QUIET_SECONDS.
KNOWLEDGE_TRANSLATION=0 turns it off.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
import time

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache

from apps.inference import client
from apps.inference.prompts import Prompt
from apps.knowledge.search.sparse import language

log = logging.getLogger(__name__)

PURPOSE = "question translation"
# A translation's weight in the sparse query (the question's own words: 1.0); chosen on the
# existing set with the gate unchanged, checked on the blind set (docs/benchmarks.md).
WEIGHT = 0.4
MAX_QUESTION_CHARS = 400  # a pasted page is not a question: its opening is translated
MAX_TOKENS = 80
CACHE_SECONDS = 24 * 3600
QUIET_SECONDS = 60.0

_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_LATIN = re.compile(r"[A-Za-z]")
_SPACES = re.compile(r"\s+")

INSTRUCTION = (
    "Translate the user's question from Russian into English. Keep product names, commands, "
    "configuration keys and error messages exactly as written. Reply with the translation "
    "only, on one line."
)
# A base model continues a document: two translated questions, then the open one. The
# examples are about no product of the knowledge base, so they favour none.
EXAMPLES = (
    (
        "как посмотреть, сколько места занимает каталог?",
        "how do I see how much space a directory takes?",
    ),
    (
        "сервис не стартует после обновления, в журнале 'permission denied' — что проверить?",
        "the service does not start after an upgrade, the journal says 'permission denied' — what should I check?",
    ),
)

_quiet_until = 0.0
_lock = threading.Lock()


def enabled() -> bool:
    return bool(getattr(settings, "KNOWLEDGE_TRANSLATION", True))


def prompt_for(question: str) -> Prompt:
    """The request: chat messages for an instruction-tuned model, the few-shot document for
    a base one. The question is one line: a newline in it cannot start a line of the document
    ("English: …") that the model would take as already answered."""
    line = _SPACES.sub(" ", question).strip()[:MAX_QUESTION_CHARS]
    shots = "".join(f"Russian: {ru}\nEnglish: {en}\n\n" for ru, en in EXAMPLES)
    return Prompt(
        messages=[
            {"role": "system", "content": INSTRUCTION},
            {"role": "user", "content": line},
        ],
        completion=f"Translate each question into English.\n\n{shots}Russian: {line}\nEnglish:",
        guarded=False,  # never shown: only searched for, and checked by usable() below
        stop=("\n",),
    )


def usable(text: str) -> str:
    """The translation as searched for: its first line, or "" when it is not English (the
    model repeated the question, wrote nothing, or went on with the document)."""
    line = text.strip().split("\n", 1)[0].strip().strip("\"'«»").strip()
    if "Russian:" in line or "English:" in line:
        return ""
    if len(_LATIN.findall(line)) < 3 or len(_CYRILLIC.findall(line)) > len(line) / 4:
        return ""
    return line[: MAX_QUESTION_CHARS * 2]


def question(text: str) -> str:
    """The question in English, or "" (not Russian, turned off, the model failed)."""
    if not wanted(text):
        return ""
    try:
        cached = cache.get(cache_key(text))
    except Exception:  # the cache is down: ask the model (question_async tries it again)
        cached = None
    if cached is not None:
        return str(cached)
    return async_to_sync(question_async)(text)


async def question_async(text: str) -> str:
    """question() for async callers: they ask before their search thread runs, so no
    thread waits for the model (the search then finds the translation in the cache)."""
    if not wanted(text):
        return ""
    key = cache_key(text)
    try:
        cached = await cache.aget(key)
    except Exception:
        log.warning("question translation cache unavailable", exc_info=True)
        cached = None
    if cached is not None:
        return str(cached)
    translated = await _asked(text)
    if translated is not None:
        try:
            await cache.aset(key, translated, CACHE_SECONDS)
        except Exception:
            log.warning("question translation cache unavailable", exc_info=True)
    return translated or ""


async def _asked(question: str) -> str | None:
    """The model's translation, "" when it was not English, None when the model failed."""
    global _quiet_until
    with _lock:
        if time.monotonic() < _quiet_until:
            return None
    started = time.monotonic()
    try:
        done = await _translate(question.strip())
    except Exception as exc:  # the time limit, a model that cannot be reached
        log.warning(
            "question translation failed after %.1f s: %s",
            time.monotonic() - started,
            type(exc).__name__,
        )
        done = None
    if done is None or done.outcome != "complete":
        if done is not None:
            log.warning("question translation failed: %s", done.error)
        with _lock:
            _quiet_until = time.monotonic() + QUIET_SECONDS
        return None
    return usable(done.text)


def wanted(question: str) -> bool:
    return bool(question.strip()) and enabled() and language(question) == "ru"


def cache_key(question: str) -> str:
    return "kb-translation:" + hashlib.sha256(question.strip().encode()).hexdigest()


async def _translate(question: str) -> client.Completion:
    # Asked for the search, not by the reader's answer: no stream slot of theirs is held
    # (the answer that follows holds one), so the call is recorded without a user.
    return await asyncio.wait_for(
        client.complete(
            prompt_for(question),
            tier="fast",
            purpose=PURPOSE,
            max_tokens=MAX_TOKENS,
            temperature=0.0,
        ),
        timeout=settings.KNOWLEDGE_TRANSLATION_SECONDS,
    )


def forget() -> None:
    """Try the model again at the next question (tests)."""
    global _quiet_until
    with _lock:
        _quiet_until = 0.0
