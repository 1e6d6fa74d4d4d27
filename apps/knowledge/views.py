"""Unified search: results the user may read, and above them a streamed, cited answer.

The results are rendered server-side. The answer streams from a second, async view as
Server-Sent Events, built by the grounded-answer service (answering.ground, the same as chat
and /v1) in one of the user's stream slots; when nothing relevant is found it says so without
calling the LLM at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from apps.inference import client, guard, limits
from apps.knowledge.search import answering, crosslingual, english, glossary, retrieval
from apps.knowledge.search.sparse import stem, terms
from apps.knowledge.store.qdrant import IndexUnavailable
from common import dbconnections

RESULTS = 8
ANSWER_TOKENS = 400
SNIPPET_CHARS = 320
MAX_QUERY = 500
_WORD = re.compile(r"[0-9A-Za-zА-Яа-яЁё_]+")


def marked_terms(query: str) -> set[str]:
    """The stems a snippet marks: the query's words and the glossary's, and the words of a
    Russian question's English translation that the question vouches for (the translation
    is cached by the search that just ran; crosslingual.confirmed) and the dictionary's
    words the search used (crosslingual.dictionary_words), so a reader of an English
    page sees which of its words answer the question."""
    weighted, _english = glossary.expand(query)
    guessed = " ".join(w for w, _ in crosslingual.dictionary_words(query))
    vouched = crosslingual.confirmed(query, english.question(query))
    return set(weighted) | set(terms(f"{vouched} {guessed}"))


def highlight(text: str, wanted: set[str]) -> SafeString:
    """An escaped snippet around the first wanted term, with matching words in <mark>."""
    words = list(_WORD.finditer(text))
    first = next((m.start() for m in words if stem(m.group(0)) in wanted), 0)
    start = max(0, first - SNIPPET_CHARS // 3)
    end = min(len(text), start + SNIPPET_CHARS)
    out: list[str] = ["…" if start else ""]
    pos = start
    for m in words:
        if m.start() < start or m.end() > end:
            continue
        if stem(m.group(0)) in wanted:
            out.append(escape(text[pos : m.start()]))
            out.append(f"<mark>{escape(m.group(0))}</mark>")
            pos = m.end()
    out.append(escape(text[pos:end]))
    out.append("…" if end < len(text) else "")
    return mark_safe("".join(out))  # noqa: S308 (every piece above is escaped)


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    context: dict[str, Any] = {"q": query, "results": [], "error": ""}
    if query:
        unknown: list[str] = []
        found = retrieval.Results([], [])
        try:
            found = retrieval.results(request.user, query, RESULTS)
            unknown = answering.unknown_names(request.user, query)
        except IndexUnavailable as exc:
            context["error"] = str(exc)
        hits = found.hits
        # One entry per page; its other matching section is listed under it.
        wanted = marked_terms(query)
        context["results"] = [
            {
                "n": n,
                "hit": page.best,
                "snippet": highlight(page.best.text, wanted),
                "more": [{"hit": h, "snippet": highlight(h.text, wanted)} for h in page.hits[1:]],
            }
            for n, page in enumerate(found.pages, start=1)
        ]
        context["unknown"] = unknown
        context["relevant"] = answering.is_relevant(hits, query, unknown)
    return render(request, "knowledge/search.html", context)


def model_line(model: str, development: bool) -> str:
    """The answer's footer: which model wrote it, and whether that is a development model."""
    if development:
        return _(
            "%(model)s · a development model: for trying the portal out, not for real decisions"
        ) % {"model": model}
    return model


def echo_note(echo: str, cited: bool) -> str:
    """What the page says in place of an answer the echo guard withheld or cut."""
    if echo in guard.NO_ANSWER:
        return _(guard.NOTE) if cited else _(guard.NOTE_NO_SOURCES)
    if echo == guard.CUT:
        return _(guard.CUT_NOTE)
    return ""


def _sse(event: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


def _refused(refused: limits.Refused) -> str:
    if refused.limit == "rate":
        return _(
            "You have asked for %(n)d answers in a minute, the most allowed. Try again in %(s)d s."
        ) % {"n": refused.allowed, "s": refused.retry_after}
    return _(
        "%(n)d answers are already being written for you. Wait for one to finish, then "
        "search again."
    ) % {"n": refused.allowed}


async def _answer_events(user: Any, query: str, language: str) -> AsyncIterator[bytes]:
    # The body is produced after the view has returned: the request's language is set again.
    with translation.override(language):
        async for event in _answer(user, query):
            yield event


async def _answer(user: Any, query: str) -> AsyncIterator[bytes]:
    try:
        await english.question_async(query)  # on the loop: no thread waits for the model
        grounding = await sync_to_async(answering.ground)(user, query, max_tokens=ANSWER_TOKENS)
    except IndexUnavailable as exc:
        yield _sse({"type": "error", "error": str(exc)})
        return
    if not grounding.found:
        # Nothing close enough: say so rather than let the model invent an answer.
        yield _sse(
            {"type": "no_answer", "text": _("Nothing relevant was found in the knowledge base.")}
        )
        return
    try:
        held = await limits.take(user)
    except limits.Refused as refused:
        yield _sse({"type": "error", "error": _refused(refused)})
        return
    # Grounded and admitted: the connection goes back before the answer streams.
    await dbconnections.release()
    async with held:
        yield _sse({"type": "citations", "citations": grounding.citations})
        events = client.stream(
            grounding.prompt, slot=held, purpose="search", max_tokens=ANSWER_TOKENS
        )
        async with aclosing(events):
            async for event in events:
                if event["type"] == "token":
                    yield _sse({"type": "token", "text": event["text"]})
                elif event["type"] == "start":
                    yield _sse(
                        {
                            "type": "model",
                            "model": event["model"],
                            "development": event["development"],
                            "text": model_line(event["model"], event["development"]),
                        }
                    )
                elif event["type"] == "end":
                    failed = event["outcome"] not in ("complete", "interrupted")
                    message = _("The language model is not available: %(error)s") % {
                        "error": event["error"]
                    }
                    yield _sse(
                        {
                            "type": "end",
                            "outcome": event["outcome"],
                            "error": message if failed else "",
                            "echo": event["echo"],
                            "note": echo_note(event["echo"], bool(grounding.citations)),
                        }
                    )


def _user(request: HttpRequest) -> Any:
    # Resolved in a sync thread: the LDAP auth backend has no async user lookup.
    user = request.user
    _ = user.is_authenticated  # evaluates the lazy object here, not in the event loop
    return user


@require_GET
async def answer(request: HttpRequest) -> HttpResponseBase:
    user = await sync_to_async(_user)(request)
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    if not query:
        return HttpResponse(status=400)
    language = translation.get_language()
    response = StreamingHttpResponse(
        _answer_events(user, query, language), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass tokens through as they come
    return response
