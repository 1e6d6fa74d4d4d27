"""Unified search: results the user may read, and above them a streamed, cited answer.

The results are rendered server-side. The answer streams from a second, async view as
Server-Sent Events; it runs the same permission-filtered retrieval, and when the best hit is
below the relevance threshold it says so without calling the LLM at all.
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
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from apps.knowledge import glossary, prompting, retrieval, tasks
from apps.knowledge.index import IndexUnavailable
from apps.knowledge.text import stem

RESULTS = 8
ANSWER_SOURCES = 5
SNIPPET_CHARS = 320
MAX_QUERY = 500
_WORD = re.compile(r"[0-9A-Za-zА-Яа-яЁё_]+")


def highlight(text: str, query: str) -> SafeString:
    """An escaped snippet around the first query term, with matching words in <mark>."""
    weighted, _english = glossary.expand(query)
    wanted = set(weighted)
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
    tasks.ensure_scheduler()
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    context: dict[str, Any] = {"q": query, "results": [], "error": ""}
    if query:
        try:
            hits = retrieval.search(request.user, query, RESULTS)
        except IndexUnavailable as exc:
            hits = []
            context["error"] = str(exc)
        context["results"] = [
            {"n": n, "hit": h, "snippet": highlight(h.text, query)}
            for n, h in enumerate(hits, start=1)
        ]
        context["relevant"] = retrieval.is_relevant(hits)
    return render(request, "knowledge/search.html", context)


def _sse(event: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


async def _answer_events(user: Any, query: str) -> AsyncIterator[bytes]:
    try:
        hits = await sync_to_async(retrieval.search)(user, query, RESULTS)
    except IndexUnavailable as exc:
        yield _sse({"type": "error", "error": str(exc)})
        return
    if not retrieval.is_relevant(hits):
        # Nothing close enough: say so rather than let the model invent an answer.
        yield _sse(
            {"type": "no_answer", "text": _("Nothing relevant was found in the knowledge base.")}
        )
        return
    used = hits[:ANSWER_SOURCES]
    yield _sse({"type": "citations", "citations": prompting.citations(used)})
    from apps.inference import client

    messages = prompting.grounded_messages(query, used)
    async with aclosing(
        client.stream(messages, user=user, purpose="search", max_tokens=400)
    ) as events:
        async for event in events:
            if event["type"] == "token":
                yield _sse({"type": "token", "text": event["text"]})
            elif event["type"] == "end":
                failed = event["outcome"] not in ("complete", "interrupted")
                message = _("The language model is not available: %(error)s") % {
                    "error": event["error"]
                }
                yield _sse(
                    {"type": "end", "outcome": event["outcome"], "error": message if failed else ""}
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
    response = StreamingHttpResponse(_answer_events(user, query), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass tokens through as they come
    return response
