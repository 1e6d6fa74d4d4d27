"""One question from the messenger, answered the way the onboarding page answers it.

The question becomes an onboarding question run of the asking portal user (shown on their
track page and in their history, with its sources): the track is the first of their groups'
tracks, or none (then the sources tagged "onboarding" only). The onboarding scenario says
what it may read (Onboarding.ask: the onboarding sources and the track's links) and
knowledge.answering.ground() finds the sources with the user's permissions; the model
writes the answer in one of the user's stream slots, as every answer of theirs. Nothing found
means no model call: the reply says so. A dead model backend, a busy user or an unreadable
index give a reply that says which, never silence.

The sources are numbered as the answer cites them and link back to the portal page of the
run (only its owner may open it); a source the user may not read is never found, so never
cited.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from apps.inference import client, guard, limits
from apps.knowledge.models import Source
from apps.knowledge.search import answering
from apps.scenarios import actions
from apps.scenarios.engine import registry
from apps.scenarios.explanation import analysis_of, refusal
from apps.scenarios.models import Run
from apps.scenarios.onboarding import access
from apps.scenarios.onboarding import actions as onboarding_actions

log = logging.getLogger(__name__)

MAX_QUESTION = 1000
PURPOSE = "messenger:onboarding"
NOTHING_FOUND = gettext_noop(
    "Nothing in the onboarding sources you may read answers this. Ask your team lead."
)
SEARCH_FAILED = gettext_noop("The knowledge base could not be searched. Try again.")
MODEL_FAILED = gettext_noop("The language model is not available: %(error)s")


@dataclass
class Reply:
    """What goes back into the thread: the answer (or why there is none), the numbered
    sources with their links to the portal, the portal page, and notes (model, echo guard)."""

    text: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    page: str = ""
    notes: list[str] = field(default_factory=list)
    failed: bool = False


def base_url(request_base: str) -> str:
    """Where people reach the portal: PORTAL_URL, else the address the call came to."""
    return (settings.PORTAL_URL or request_base).rstrip("/")


def track_for(user: Any) -> Any:
    tracks = [t for t in access.visible(user) if access.follows(user, t)]
    return tracks[0] if tracks else None


def everyone_may_read(scope: answering.Scope) -> answering.Scope:
    """`scope` narrowed to the sources every signed-in user may read (no groups set)."""
    public = set(
        Source.objects.filter(enabled=True, allowed_groups__isnull=True).values_list(
            "pk", flat=True
        )
    )
    if scope.source_ids:
        public &= set(scope.source_ids)
    # An empty set would not narrow at all: nothing public means nothing found.
    return dataclasses.replace(scope, source_ids=frozenset(public or {-1}))


def taken(user: Any, request_id: str) -> bool:
    """Was this messenger request answered (or begun) already? Celery hands a task to
    another worker when the one running it died (acks_late), and a question must not be
    answered twice."""
    return bool(request_id) and (
        Run.objects.filter(user=user, scenario="onboarding", params__request=request_id).exists()
    )


def ask(
    user: Any, question: str, base: str, *, shared: bool = False, request_id: str = ""
) -> Reply:
    """Answer `question` for `user` (call from a worker, not an event loop). `shared`: the
    answer is posted where others read it too (a channel), so it reads only sources every
    portal user may read, within the user's own permissions."""
    question = question.strip()[:MAX_QUESTION]
    track = track_for(user)
    run = onboarding_actions.answer_question(user, track, question, Run.Origin.API, request_id)
    page = f"{base}{reverse('scenarios:run', args=['onboarding', run.pk])}"
    scenario = registry.get("onboarding")
    asked = scenario.ask(analysis_of(run))
    if asked is None:  # not a question run: cannot happen for the run just made
        raise RuntimeError("the onboarding scenario did not take the question")
    scope = asked.scope or answering.EVERYTHING
    try:
        grounding = answering.ground(
            user,
            asked.question,
            scope=everyone_may_read(scope) if shared else scope,
            instruction=asked.instruction,
            context=asked.context,
            context_title=asked.context_title,
            max_tokens=settings.SCENARIO_EXPLANATION_MAX_TOKENS,
        )
    except Exception:
        log.exception("knowledge search failed for messenger question run %s", run.pk)
        actions.finish_explanation(
            run.pk, "", 0, {"status": Run.Status.FAILED, "error": SEARCH_FAILED}
        )
        return Reply(_(SEARCH_FAILED), page=page, failed=True)
    if not grounding.found:
        actions.finish_explanation(
            run.pk, "", 0, {"status": Run.Status.COMPLETE, "error": NOTHING_FOUND}
        )
        return Reply(_(NOTHING_FOUND), page=page)
    outcome = async_to_sync(_complete)(user, grounding)
    if isinstance(outcome, limits.Refused):
        reason = refusal(outcome)
        actions.finish_explanation(run.pk, "", 0, {"status": Run.Status.NONE, "error": reason})
        return Reply(reason, page=page, failed=True)
    return _finish(run, grounding, outcome, page)


async def _complete(user: Any, grounding: answering.Grounding) -> Any:
    try:
        held = await limits.take(user)
    except limits.Refused as refused:
        return refused
    async with held:
        return await client.complete(
            grounding.prompt,
            slot=held,
            purpose=PURPOSE,
            max_tokens=settings.SCENARIO_EXPLANATION_MAX_TOKENS,
        )


def _finish(run: Run, grounding: answering.Grounding, done: client.Completion, page: str) -> Reply:
    citations = grounding.citations
    sources = [
        {**c, "url": f"{page}#source-{c['n']}"} for c in citations if isinstance(c.get("n"), int)
    ]
    text = done.text.strip()
    notes: list[str] = []
    if done.echo in guard.NO_ANSWER:
        text = ""
        notes.append(_(guard.NOTE) if citations else _(guard.NOTE_NO_SOURCES))
    elif done.echo == guard.CUT:
        notes.append(_(guard.CUT_NOTE))
    status = {
        "complete": Run.Status.COMPLETE,
        "interrupted": Run.Status.INTERRUPTED,
        "cancelled": Run.Status.INTERRUPTED,
    }.get(done.outcome, Run.Status.FAILED)
    fields: dict[str, Any] = {
        "status": status,
        "error": done.error or "",
        "citations": citations,
        "source_ids": sorted({h.source_id for h in grounding.hits}),
        "development": done.development,
        "echo": done.echo,
        "ttft_s": done.ttft_s,
        "tokens_per_s": done.tokens_per_s,
    }
    for name in ("backend", "model", "tier", "prompt_tokens", "completion_tokens"):
        value = getattr(done, name)
        if value not in (None, ""):
            fields[name] = value
    if status == Run.Status.FAILED and text:
        fields["status"] = Run.Status.INTERRUPTED  # keep the partial text, as the page does
    actions.finish_explanation(run.pk, text, 0, fields)
    failed = done.outcome == "failed"
    if failed:
        message = _(MODEL_FAILED) % {"error": done.error or done.outcome}
        text = f"{text}\n\n{message}" if text else message
    if done.model and not failed and done.development:
        notes.append(
            _("%(model)s · a development model: for trying the portal out, not for real decisions")
            % {"model": done.model}
        )
    return Reply(
        text, sources=sources if text or notes else [], page=page, notes=notes, failed=failed
    )
