"""The one grounded-answer service: `ground(user, question, history, scope)`.

Chat, the OpenAI-compatible API, the search answer and every scenario build the prompt of a
grounded answer here, so they share one policy: how many chunks, which count as relevant,
how many per document, how long each may be, and how they are written into the prompt
(prompting.py). The result is a Prompt for `inference.client.stream`, the citations to show
under the answer, and whether anything relevant was found at all.

    grounding = answering.ground(user, "Как перезапустить под в CrashLoopBackOff?", history)
    async with limits.slot(user) as held:
        async for event in client.stream(grounding.prompt, slot=held, purpose="chat"): ...

ground() reads the database and the index and embeds the question: call it from a thread
(sync_to_async, or the chat's dbthread), not from the event loop.

A scenario narrows the sources with a Scope and adds its own task and data:

    answering.ground(
        user, "Why is the pod restarting?", scope=Scope(paths=("runbooks/",),
        terms=("KubePodCrashLooping",)), instruction="Explain these findings; do not invent
        new ones.", context=findings_as_text, context_title="Findings")
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.inference.prompts import Prompt
from apps.knowledge.models import Document, Source
from apps.knowledge.search import prompting, retrieval
from apps.knowledge.search.retrieval import Hit
from apps.knowledge.search.sparse import STOPWORDS, language, terms
from apps.knowledge.store.qdrant import doc_key

# --- the policy -------------------------------------------------------------------------------
# Chunks put into the prompt: four ~250-token chunks leave room for the history and the answer
# even in the small dev model's context.
HITS = 4
# At most this many chunks of one document: more sources beat more of the same page.
PER_DOCUMENT = 2
# A chunk longer than this (a huge table, a log pasted into a page) is cut in the prompt.
SOURCE_CHARS = 2000
# Nothing is relevant unless one of the first RELEVANT_AMONG chunks reaches the threshold
# (KNOWLEDGE_MIN_RELEVANCE, 0..1); then chunks below a fraction of it are left out rather
# than cited.
RELEVANT_AMONG = 3
KEEP_FRACTION = 0.5
# A question that names a thing (a product, a tool: Terraform, GitLab, zabbix) that no chunk
# the reader may read mentions asks about something the knowledge base does not cover: only
# a chunk at least this relevant answers it (a page may still answer it in general terms).
UNKNOWN_NAME_RELEVANCE = 0.7
MAX_NAMES = 5
# Candidates looked at for the scope's exact terms.
TERM_CANDIDATES = 20
MAX_TERMS = 20
# Fitting the prompt into the model's context (LLM_CONTEXT_TOKENS): tokens kept free besides
# the answer's own max_tokens, and the shortest a source is cut to before it is dropped.
CONTEXT_MARGIN = 64
MIN_SOURCE_CHARS = 400
CUT_NOTE = "\n… (cut to fit the model's context)"


def min_relevance(question: str = "") -> float:
    """The threshold for this question: a Russian one is held to KNOWLEDGE_MIN_RELEVANCE_RU.
    Over English pages it finds fewer of its own words and (with the English-only default
    model) a weaker dense match even when the page answers it; docs/benchmarks.md, "The
    relevance gate", has the sweep both defaults were chosen from."""
    if question and language(question) == "ru":
        return float(settings.KNOWLEDGE_MIN_RELEVANCE_RU)
    return float(settings.KNOWLEDGE_MIN_RELEVANCE)


def is_relevant(hits: Sequence[Hit], question: str, unknown: Sequence[str] = ()) -> bool:
    """The relevance rule: does anything here answer the question at all? `unknown`: the
    question's names that nothing readable mentions (unknown_names)."""
    threshold = min_relevance(question)
    if unknown:
        threshold = max(threshold, UNKNOWN_NAME_RELEVANCE)
    return any(h.relevance >= threshold for h in hits[:RELEVANT_AMONG])


def _answers(user: Any, hits: Sequence[Hit], question: str, filters: dict[str, Any]) -> bool:
    """is_relevant with the names rule; the names are looked up only when they decide (the
    best hit passes the question's threshold but not UNKNOWN_NAME_RELEVANCE)."""
    if not is_relevant(hits, question):
        return False
    best = max(h.relevance for h in hits[:RELEVANT_AMONG])
    return best >= UNKNOWN_NAME_RELEVANCE or not unknown_names(user, question, filters)


# A Latin word standing alone: not part of an identifier (memory_limiter, S3, xy-points, a.b).
_NAME = re.compile(r"(?<![\w./-])[A-Za-z]{3,}(?![\w./-])")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s|\n)\W*$")
# Quoted material (`code`, fenced blocks) is pasted, not named.
_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.DOTALL)
# Names are read from a question's own words; a longer text is mostly a pasted log or page.
MAX_QUESTION_WORDS = 40
# A word this long in capitals is an error constant (ECONNREFUSED), not a product's name.
ACRONYM_LETTERS = 5


def names(question: str) -> list[str]:
    """What a question names: in a Russian question every Latin word (terraform, nginx); in
    an English one the words with a capital inside (GitLab, VPN) or capitalised inside a
    sentence (Terraform). Stopwords, error constants and quoted code are not names; a text
    longer than a question names nothing."""
    prose = _CODE.sub(" ", question)
    if len(prose.split()) > MAX_QUESTION_WORDS:
        return []
    russian = language(prose) == "ru"
    found: list[str] = []
    for match in _NAME.finditer(prose):
        word = match.group(0)
        if word.lower() in STOPWORDS or word.lower() in (f.lower() for f in found):
            continue
        if word.isupper() and len(word) > ACRONYM_LETTERS:
            continue
        inner_capital = any(ch.isupper() for ch in word[1:])
        mid_sentence = word[0].isupper() and not _SENTENCE_START.search(prose[: match.start()])
        if russian or inner_capital or mid_sentence:
            found.append(word)
    return found[:MAX_NAMES]


def unknown_names(user: Any, question: str, filters: dict[str, Any] | None = None) -> list[str]:
    """The question's names (names()) that no chunk the user may read, within `filters`,
    mentions in its text, title or headings."""
    unknown = []
    for name in names(question):
        wanted = set(terms(name))
        found = retrieval.search(user, name, 3, filters, mode="sparse", per_document=1)
        if not any(wanted & set(terms(f"{h.title} {h.section} {h.text}")) for h in found):
            unknown.append(name)
    return unknown


@dataclass(frozen=True)
class Scope:
    """Which sources an answer may read, within what the user may read anyway.

    Empty fields do not narrow; filled ones narrow together (a source must match every
    filled field). `source_ids`: these sources; `tags`: sources an admin tagged so (e.g.
    "runbooks", "onboarding"); `source_types`: "git", "confluence", "directory", "web",
    "upload"; `paths`: documents whose path starts with one of these (e.g. "runbooks/").
    `doc_keys`: these documents (index.doc_key of source and external id), e.g. the pages a
    track links to. `terms`: exact words to look up besides the question (an alert name, an error code);
    a chunk that contains one is cited first. A scope that matches nothing finds nothing:
    it never widens to every source."""

    source_ids: frozenset[int] = field(default_factory=frozenset)
    tags: frozenset[str] = field(default_factory=frozenset)
    source_types: frozenset[str] = field(default_factory=frozenset)
    paths: tuple[str, ...] = ()
    doc_keys: frozenset[str] = field(default_factory=frozenset)
    terms: tuple[str, ...] = ()

    @property
    def narrows(self) -> bool:
        return bool(
            self.source_ids or self.tags or self.source_types or self.paths or self.doc_keys
        )


EVERYTHING = Scope()


@dataclass(frozen=True)
class Grounding:
    """What ground() found: the prompt to send, the sources it cites (numbered as in the
    prompt; the dicts chat stores with an answer), whether anything relevant was found (if
    not, the prompt cites nothing and says so), and the chunks themselves."""

    prompt: Prompt
    citations: list[dict[str, Any]]
    found: bool
    hits: list[Hit]
    # What was left out to fit the model's context: {"turns": n, "sources": n, "data_chars": n}
    trimmed: dict[str, int] = field(default_factory=dict)

    @property
    def messages(self) -> list[dict[str, str]]:
        return self.prompt.messages


def citations(hits: Sequence[Hit]) -> list[dict[str, Any]]:
    return [
        {
            "n": n,
            "title": h.title,
            "section": h.section,
            "link": h.link,
            # The document's revision the text was read from (a commit, a Drive version).
            "version": h.version,
            "source": h.source,
            "chunk": h.chunk_id,
        }
        for n, h in enumerate(hits, start=1)
    ]


def ground(
    user: Any,
    question: str,
    history: Sequence[dict[str, str]] = (),
    scope: Scope | None = None,
    *,
    instruction: str = "",
    context: str = "",
    context_title: str = "",
    knowledge: bool = True,
    max_tokens: int = 512,
) -> Grounding:
    """The prompt of a grounded answer to `question` for `user`, after `history` (earlier
    turns, oldest first, {"role": "user"|"assistant", "content": ...}).

    `scope` narrows the sources (see Scope). `instruction` is the caller's task, written
    among the rules (e.g. "Explain these findings; do not invent new ones."). `context` is
    the caller's own material (a scenario's findings, rendered as text): it goes in as
    quoted untrusted data under `context_title`. `knowledge=False` asks the model alone (no
    retrieval, nothing cited). Raises what retrieval raises (IndexUnavailable).

    The prompt fits the model's context (LLM_CONTEXT_TOKENS) with `max_tokens` left for the
    answer: the oldest turns go first, then the lowest-ranked sources, then the data is cut.
    The question itself is never cut; one too long for the model is the backend's refusal."""
    hits: list[Hit] = []
    found = False
    if knowledge:
        hits = _retrieve(user, question, scope or EVERYTHING)
        found = bool(hits)
    parts = prompting.Parts(
        question=question,
        hits=hits,
        history=list(history),
        knowledge=knowledge,
        instruction=instruction,
        context=context,
        context_title=context_title,
        source_chars=SOURCE_CHARS,
    )
    budget = int(settings.LLM_CONTEXT_TOKENS) - max_tokens - CONTEXT_MARGIN
    parts, trimmed = _fit(parts, budget)
    hits = list(parts.hits)
    return Grounding(
        prompt=_prompt(parts),
        citations=citations(hits),
        found=found,
        hits=hits,
        trimmed=trimmed,
    )


def _prompt(parts: prompting.Parts) -> Prompt:
    return Prompt(
        messages=prompting.chat_messages(parts),
        completion=prompting.completion_text(parts),
        scaffold=prompting.SCAFFOLD,
        quoted=prompting.quoted(parts),
    )


def _fit(parts: prompting.Parts, budget: int) -> tuple[prompting.Parts, dict[str, int]]:
    """`parts` trimmed until their prompt's estimate is within `budget` tokens."""
    trimmed: dict[str, int] = {}

    def over(candidate: prompting.Parts) -> bool:
        return _prompt(candidate).estimated_tokens() > budget

    def note(what: str, n: int = 1) -> None:
        trimmed[what] = trimmed.get(what, 0) + n

    # The oldest turns first: a question and its answer leave together.
    while over(parts) and parts.history:
        drop = 2 if len(parts.history) > 1 and parts.history[0].get("role") == "user" else 1
        parts = dataclasses.replace(parts, history=list(parts.history)[drop:])
        note("turns", drop)
    # Then the lowest-ranked sources, the best one kept while it can be shortened.
    while over(parts) and len(parts.hits) > 1:
        parts = dataclasses.replace(parts, hits=list(parts.hits)[:-1])
        note("sources")
    while over(parts) and parts.hits and parts.source_chars > MIN_SOURCE_CHARS:
        parts = dataclasses.replace(
            parts, source_chars=max(MIN_SOURCE_CHARS, parts.source_chars // 2)
        )
    # Then the data (a scenario's findings), cut from the end.
    original = context = parts.context
    while over(parts) and len(context) > 200:
        context = context[: int(len(context) * 0.8)].rstrip()
        parts = dataclasses.replace(parts, context=context + CUT_NOTE)
    if context != original:
        note("data_chars", len(original) - len(context))
    # Still over: the question itself is longer than the model takes; the backend says so.
    return parts, trimmed


def _retrieve(user: Any, question: str, scope: Scope) -> list[Hit]:
    """The chunks to cite: exact-term matches first, then the question's own hits, under the
    caps; none at all when nothing is relevant."""
    filters = _filters(scope)
    if filters is None:
        return []
    exact = _exact(user, scope.terms, filters)
    found = retrieval.search(user, question, HITS + len(exact), filters, per_document=PER_DOCUMENT)
    if not exact and not _answers(user, found, question, filters):
        return []
    floor = min_relevance(question) * KEEP_FRACTION
    chosen: list[Hit] = []
    per_doc: dict[tuple[int, str], int] = {}
    for hit in [*exact, *found]:
        key = (hit.source_id, hit.document_id)
        if any(c.chunk_id == hit.chunk_id for c in chosen) or per_doc.get(key, 0) >= PER_DOCUMENT:
            continue
        if hit not in exact and hit.relevance < floor:
            continue
        per_doc[key] = per_doc.get(key, 0) + 1
        chosen.append(hit)
        if len(chosen) >= HITS:
            break
    return chosen


def _exact(user: Any, terms: Sequence[str], filters: dict[str, Any]) -> list[Hit]:
    """Chunks that contain one of the terms as written (case aside) in their text, title or
    section heading: the sections headed by a term first, then the others, best first."""
    wanted = [t.strip() for t in terms if t and t.strip()][:MAX_TERMS]
    if not wanted:
        return []
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(t)}(?!\w)" for t in wanted), re.IGNORECASE)
    # Every candidate chunk, not one per document: in a reference page (Ceph's health checks,
    # a runbook collection) the chunk that mentions a term most is often a neighbour that
    # points at it ("see OSD_DOWN above"), not the section the term names.
    candidates = retrieval.search(
        user,
        " ".join(wanted),
        TERM_CANDIDATES,
        filters,
        mode="sparse",
        per_document=TERM_CANDIDATES,
    )
    # The heading counts: a section named by the term rarely repeats it in its body.
    matching = [
        h for h in candidates if any(pattern.search(x) for x in (h.text, h.title, h.section))
    ]
    named = {t.lower() for t in wanted}
    # The section headed by the term first; otherwise the search's order (sort is stable).
    matching.sort(key=lambda h: h.section.rsplit(" > ", 1)[-1].strip().lower() not in named)
    return matching[:HITS]


def _filters(scope: Scope) -> dict[str, Any] | None:
    """retrieval.search filters for a scope; None when the scope matches no source."""
    if not scope.narrows:
        return {}
    sources = Source.objects.filter(enabled=True)
    if scope.source_ids:
        sources = sources.filter(pk__in=scope.source_ids)
    if scope.source_types:
        sources = sources.filter(type__in=scope.source_types)
    rows = list(sources.values_list("pk", "tags"))
    if scope.tags:
        # Tags are few per source and sources few: matched here, the same on every database.
        rows = [(pk, tags) for pk, tags in rows if scope.tags & set(tags or ())]
    source_ids = [pk for pk, _tags in rows]
    if not source_ids:
        return None
    filters: dict[str, Any] = {"source_ids": source_ids}
    if scope.doc_keys:
        wanted = {key for key in scope.doc_keys if int(key.split(":", 1)[0]) in set(source_ids)}
        if not wanted:
            return None
        filters["doc_keys"] = sorted(wanted)
    if scope.paths:
        documents = Document.objects.filter(source_id__in=source_ids)
        keys = [
            doc_key(source_id, external_id)
            for source_id, external_id, path in documents.values_list(
                "source_id", "external_id", "path"
            )
            if any(path.startswith(prefix) for prefix in scope.paths)
        ]
        if "doc_keys" in filters:
            keys = [key for key in keys if key in set(filters["doc_keys"])]
        if not keys:
            return None
        filters["doc_keys"] = keys
    return filters
