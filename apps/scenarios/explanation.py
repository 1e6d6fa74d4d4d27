"""The model's explanation of a run's findings: grounded, streamed like a chat answer, checked.

The findings are stored first and shown at once; the explanation comes second and may not
add findings of its own. It is grounded by knowledge.answering.ground() with the user's
permissions, the scenario's source tags and its exact identifiers (Finding.refs and
Analysis.grounding), with the findings as quoted data and the scenario's instruction as the
task. It streams in one of the user's stream slots (inference.limits) as a relay.LiveAnswer
(frames, periodic save, Stop and catch-up from any worker), and when it ends every fenced
code block in it goes through the scenario's checker (Scenario.check_answer) before the
result is stored and shown.

It starts when the run's owner opens the run page while it is pending (consumers.py), or
from any asyncio code with begin().
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, ClassVar

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from apps.inference import client, limits, relay
from apps.inference.relay import Endings, LiveAnswer, SearchFailed
from apps.knowledge.search import answering, english
from apps.scenarios import actions
from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis, Scenario
from apps.scenarios.engine.checks import Check, code_blocks
from apps.scenarios.engine.findings import Finding
from apps.scenarios.engine.runner import ToolMissing
from apps.scenarios.models import Run

log = logging.getLogger(__name__)

# The findings go into the prompt as data: the most severe first, within the small dev
# model's context beside four sources.
PROMPT_FINDINGS = 12
PROMPT_FINDINGS_CHARS = 3500
EXPLAIN = (
    "Explain the findings in the data below, most severe first. Do not add problems that "
    "are not in the findings; when a source supports a finding or its fix, cite it."
)

STOPPED = gettext_noop("Stopped by the user.")
FAILED = gettext_noop("The explanation could not be written.")
SEARCH_FAILED = gettext_noop("The knowledge base could not be searched. Try again.")
UNKNOWN_SCENARIO = gettext_noop("This scenario is no longer available.")
SHUTDOWN = gettext_noop(
    "The server stopped while writing this explanation; the text so far is kept."
)


def group_name(run_id: int) -> str:
    return f"scenarios.run{run_id}"


def analysis_of(run: Run) -> Analysis:
    """The run's stored analysis, as the scenario returned it."""
    return Analysis(
        [Finding.from_dict(f) for f in run.findings], dict(run.facts), list(run.grounding)
    )


def findings_text(run: Run) -> str:
    """The findings as the model reads them (quoted data, not instructions)."""
    lines: list[str] = []
    for f in run.findings[:PROMPT_FINDINGS]:
        where = f"line {f['line']}" if f.get("line") else str(f.get("where") or "")
        lines.append(f"- [{f.get('severity')}] {f.get('rule')}{' at ' + where if where else ''}")
        lines.append(f"  what: {f.get('message', '')}")
        for key in ("evidence", "why", "fix"):
            if f.get(key):
                lines.append(f"  {key}: {f[key]}")
    if len(run.findings) > PROMPT_FINDINGS:
        lines.append(f"(and {len(run.findings) - PROMPT_FINDINGS} less severe findings)")
    text = "\n".join(lines) or "(no findings: the checks found nothing wrong)"
    return text[:PROMPT_FINDINGS_CHARS]


def question_for(scenario: Scenario, run: Run) -> str:
    """What the knowledge base is searched for and the model is asked: the findings in words
    (exact identifiers are looked up besides, see scope_for)."""
    top = run.findings[:3]
    if not top:
        return _("%(scenario)s: the checks found nothing wrong. What did they check?") % {
            "scenario": scenario.title
        }
    said = "; ".join(f"{f.get('rule')}: {f.get('message')}" for f in top)
    return (
        _("%(scenario)s, explain: %(findings)s") % {"scenario": scenario.title, "findings": said}
    )[:600]


def scope_for(scenario: Scenario, analysis: Analysis) -> answering.Scope:
    terms = [*analysis.grounding, *(r for f in analysis.findings for r in f.refs)]
    return answering.Scope(
        tags=frozenset(scenario.source_tags),
        terms=tuple(dict.fromkeys(t for t in terms if t))[: answering.MAX_TERMS],
    )


@dataclass(eq=False, kw_only=True)
class Explanation(LiveAnswer):
    """The explanation of one run being written."""

    kind: ClassVar[str] = "scenario"
    endings: ClassVar[Endings] = Endings(STOPPED, SHUTDOWN, SEARCH_FAILED, FAILED)

    run: Run
    scenario: Scenario
    slot: limits.Slot
    language: str

    @property
    def answer_id(self) -> int:
        return int(self.run.pk)

    @property
    def group(self) -> str:
        return group_name(self.run.pk)

    @classmethod
    async def save_batch(
        cls, rows: list[tuple[int, str, int]], starts: dict[int, dict[str, Any]]
    ) -> None:
        await database_sync_to_async(actions.flush_explanations)(rows, starts)

    async def announce(self) -> None:
        await self.emit({"type": "scenario.started", "run_id": self.run.pk})

    async def run_task(self) -> None:
        fields = await self.generated()
        self.closing = True
        try:
            await self.relay()  # what the last read brought
            if self.text.strip() and fields["status"] != Run.Status.FAILED:
                checking = {"type": "checking", "message_id": self.run.pk}
                await self.emit({"type": relay.RELAY, "frame": relay.dumps(checking)})
                fields["checks"] = await asyncio.to_thread(self._check)
        except Exception:
            log.exception("checks of run %s failed", self.run.pk)
        if fields["status"] == Run.Status.FAILED and self.text:
            fields["status"] = Run.Status.INTERRUPTED  # keep the partial text visible
        try:
            await database_sync_to_async(actions.finish_explanation)(
                self.run.pk, self.text, self.seq, {**self.start, **fields}
            )
        except Exception:
            log.exception("could not save the explanation of run %s", self.run.pk)
        finally:
            self.unregister()
            await self.emit({"type": "scenario.finished", "run_id": self.run.pk})
            await self.slot.release()

    async def _ground(self) -> answering.Grounding:
        analysis = analysis_of(self.run)

        def ask() -> Any:
            # In the page's language: a scenario may word its question in it.
            with translation.override(self.language):
                return self.scenario.ask(analysis)

        asked = await database_sync_to_async(ask)()
        if asked is not None:
            try:
                await english.question_async(asked.question)  # no thread waits for the model
                return await database_sync_to_async(answering.ground)(
                    self.slot.user,
                    asked.question,
                    scope=asked.scope or scope_for(self.scenario, analysis),
                    instruction=asked.instruction,
                    context=asked.context,
                    context_title=asked.context_title,
                )
            except Exception as exc:
                log.exception("knowledge search failed for run %s", self.run.pk)
                raise SearchFailed(type(exc).__name__) from exc
        instruction = f"{EXPLAIN} {self.scenario.instruction}"
        with translation.override(self.language):
            # Asked in the page's language: the model answers in the language it is asked in.
            question = question_for(self.scenario, self.run)
        try:
            await english.question_async(question)
            return await database_sync_to_async(answering.ground)(
                self.slot.user,
                question,
                scope=scope_for(self.scenario, analysis),
                instruction=instruction,
                context=findings_text(self.run),
                context_title="Findings",
                max_tokens=settings.SCENARIO_EXPLANATION_MAX_TOKENS,
            )
        except Exception as exc:
            log.exception("knowledge search failed for run %s", self.run.pk)
            raise SearchFailed(type(exc).__name__) from exc

    async def _generate(self) -> dict[str, Any]:
        grounding = await self._ground()
        citations = grounding.citations
        sources = sorted({h.source_id for h in grounding.hits})
        end: dict[str, Any] | None = None
        events = client.stream(
            grounding.prompt,
            slot=self.slot,
            purpose=f"scenario:{self.scenario.slug}",
            max_tokens=settings.SCENARIO_EXPLANATION_MAX_TOKENS,
            pace=relay.batch_seconds,
        )
        async with aclosing(events):
            async for event in events:
                if event["type"] == "token":
                    await self.push(event["text"])
                elif event["type"] == "start":
                    self.start = {
                        **{
                            k: event[k]
                            for k in ("backend", "model", "tier", "development")
                            if k in event
                        },
                        "citations": citations,
                        "source_ids": sources,
                    }
                else:
                    end = dict(event)
        if end is None:
            return {"status": Run.Status.FAILED, "error": FAILED}
        fields = self.ended(end, gettext_noop("The explanation reached the length limit."))
        fields.update(citations=citations, source_ids=sources)
        return fields

    def _check(self) -> list[dict[str, Any]]:
        """The scenario's checker on every code block of the answer (a worker thread)."""
        with translation.override(self.language):
            try:
                checks = self.scenario.check_answer(self.text, analysis_of(self.run))
            except ToolMissing as exc:
                message = _("%(tool)s is not installed on the portal server.") % {"tool": exc.tool}
                checks = [Check.unchecked(b, message) for b in code_blocks(self.text)]
        return actions.checks_as_data(checks)


def refusal(refused: limits.Refused) -> str:
    if refused.limit == "rate":
        return _(
            "You have asked the model %(n)d times in a minute, the most allowed. "
            "Try again in %(s)d s."
        ) % {"n": refused.allowed, "s": refused.retry_after}
    return _(
        "%(n)d answers are already being written for you. Wait for one to finish or stop it."
    ) % {"n": refused.allowed}


async def begin(run_id: int, user: Any, language: str) -> str:
    """Start the pending explanation of a run of `user`'s in this process. Returns "" when
    it started (or another socket or worker started it first), else why it could not: a
    limit refused it, and the run is back to "not requested" with that reason."""
    try:
        slot = await limits.take(user)
    except limits.Refused as refused:
        with translation.override(language):
            reason = refusal(refused)
        await database_sync_to_async(actions.cancel_pending)(run_id, reason)
        return reason
    try:
        owner = await relay.control_channel()
        run = await database_sync_to_async(actions.begin_explanation)(run_id, owner)
    except BaseException:
        await slot.release()
        raise
    if run is None:
        await slot.release()  # not pending any more: another socket or worker took it
        return ""
    scenario = registry.available().get(run.scenario)
    if scenario is None:  # the scenario was removed since the run was made
        await slot.release()
        gone = {"status": Run.Status.FAILED, "error": UNKNOWN_SCENARIO}
        await database_sync_to_async(actions.finish_explanation)(run.pk, "", 0, gone)
        return ""
    answer = Explanation(
        run=run, scenario=scenario, slot=slot, language=language, layer=get_channel_layer()
    )
    answer.register()
    slot.keep()
    # From here the task owns the slot and releases it when the explanation is saved.
    answer.task = asyncio.create_task(answer.run_task(), name="scenario-explanation")
    await answer.relay()  # the announcement goes out now, from the caller's task
    return ""
