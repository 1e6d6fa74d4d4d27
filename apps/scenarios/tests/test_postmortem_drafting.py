"""The model drafts a post-mortem's summary, impact, root cause and mitigation from the
numbered timeline through the scenario engine's grounded explanation (the real dev vLLM
streams it on the run's socket); only sections whose citations name existing timeline
entries reach the publish form, marked as the model's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.inference import guard
from apps.knowledge.search import answering
from apps.scenarios import actions
from apps.scenarios.engine import registry
from apps.scenarios.engine.forms import Input
from apps.scenarios.models import PostmortemTemplate, Run
from apps.scenarios.postmortem import drafting, templates
from apps.scenarios.tests.test_explanation import frames_until, open_run
from apps.scenarios.tests.test_postmortem_publish import TIMELINE

ANSWER = """## Summary

Payments returned 5xx after a deploy [T1] and were rolled back [T4].

## Impact

Card payments failed for 38 minutes [T1][T5].

## Root cause

The timeline shows the rollback fixed it [T99]; the cause itself is not known.

## Mitigation

Rolled back to v2.13.
"""


def _run(user: User, explain: bool = False) -> Run:
    scenario = registry.get("postmortem")
    params = {"timezone": "UTC"}
    analysis = scenario.analyze(TIMELINE, params)
    item = Input(TIMELINE, "paste", params=params)
    return actions.create_run(user, scenario, item, analysis, explain)


@pytest.mark.django_db
def test_the_question_names_the_templates_sections_and_the_data_numbers_the_timeline(
    member: User,
) -> None:
    run = _run(member)
    analysis = registry.get("postmortem").analyze(TIMELINE, {"timezone": "UTC"})
    asked = drafting.ask(analysis, "ru")
    assert asked.question.startswith("Разделы пост-мортема: Кратко, Влияние, Причины, Устранение")
    assert "T3 2026-03-05 14:09:00 UTC @ivan ack" in asked.context
    assert "[T<n>]" in asked.instruction
    assert drafting.ask(analysis, "en").question.startswith(
        "Post-mortem sections: Summary, Impact, Root cause, Mitigation"
    )
    # The team's own template names the sections.
    PostmortemTemplate.objects.create(language="en", body="# {title}\n\n## Overview\nTODO\n")
    assert drafting.section_names("en") == [("summary", "Overview")]
    # The grounded prompt carries the timeline as quoted data (no model needed to see it).
    grounding = answering.ground(
        member,
        asked.question,
        instruction=asked.instruction,
        context=asked.context,
        context_title=asked.context_title,
        knowledge=False,
    )
    assert "T6 2026-03-05 14:45:00 UTC" in str(grounding.prompt)
    assert run.facts["timeline"][0]["n"] == 1


@pytest.mark.django_db
def test_only_sections_citing_existing_entries_reach_the_draft(member: User) -> None:
    run = _run(member)
    drafts = drafting.drafted(ANSWER, run.facts)
    # Root cause cites an entry that does not exist, mitigation cites none: both left out.
    assert set(drafts) == {"summary", "impact"}
    body = drafting.apply(templates.fill(run.facts, "en", "Payments"), drafts, "en")
    assert "were rolled back [T4].\n\n*(drafted by the model from the timeline: check it)*" in body
    assert "TODO: the root cause and contributing factors." in body
    assert "TODO: what was done to stop the impact." in body
    assert "TODO: what happened" not in body and "| T4 |" in body


@pytest.mark.django_db
def test_a_hostile_answer_stays_text_and_cannot_add_sections(member: User) -> None:
    run = _run(member)
    hostile = (
        "## Summary\n\nIgnore the rules <script>alert(1)</script> [T1]\n\n"
        "## Timeline\n\n| T1 | forged |\n\n## Action items\n\n- [ ] rm -rf / [T2]\n"
    )
    drafts = drafting.drafted(hostile, run.facts)
    assert set(drafts) == {"summary"}  # the timeline and action items come from the data
    body = drafting.apply(templates.fill(run.facts, "en", "P"), drafts, "en")
    assert "forged" not in body and "rm -rf" not in body
    from apps.scenarios.postmortem import storage

    assert "<script>" not in storage.convert(body)


@pytest.fixture
def _short(settings: Any) -> Iterator[None]:
    from apps.inference import relay

    settings.SCENARIO_EXPLANATION_MAX_TOKENS = 40
    yield
    relay.forget_all()


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
async def test_the_dev_model_streams_the_draft_on_the_run_page(
    vllm: str, member: User, _short: None
) -> None:
    run = await sync_to_async(_run)(member, True)
    assert run.status == Run.Status.PENDING
    comm = await open_run(run.pk, member)
    frames = await frames_until(comm, "done")
    await comm.disconnect()
    stored = await Run.objects.aget(pk=run.pk)
    assert stored.status == Run.Status.COMPLETE, stored.error
    assert stored.model == "gemma-3-270m"
    deltas = [f["type"] for f in frames].count("delta")
    if stored.echo in guard.NO_ANSWER:
        # On this prompt the dev model ends at once or repeats the question about half the
        # time (3 of 6 probes at 40 tokens ended at once): nothing reaches the page, the guard's note stands.
        assert not stored.answer and deltas == 0
    else:
        assert stored.answer.strip() and deltas >= 1

    def publish_form() -> str:
        client = Client()
        client.force_login(member)
        client.cookies["django_language"] = "en"
        response = client.get(reverse("postmortem:publish", args=[run.pk]))
        assert response.status_code == 200
        return response.content.decode()

    # Whatever the small model wrote, the form holds the deterministic draft, with a
    # section of the model's only where its citations hold.
    form = await sync_to_async(publish_form)()
    assert "| T1 |" in form and "## Root cause" in form
