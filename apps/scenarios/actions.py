"""Every write to scenario runs goes through these functions."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from apps.scenarios.engine.base import Analysis, Scenario
from apps.scenarios.engine.checks import Check
from apps.scenarios.engine.forms import Input
from apps.scenarios.models import Run

STALE_ERROR = gettext_noop(
    "The server that was writing this explanation stopped; the text so far is kept."
)
MAX_COMMENT = 2000


class RunError(ValueError):
    """A request about a run that cannot be done; the message says why."""


def title_for(scenario: Scenario, item: Input) -> str:
    """What the run is called in lists: what the scenario names it after (its own fields),
    the file, or the first telling line of a paste."""
    named = scenario.run_title(item.params)
    if named:
        return named[:200]
    if item.git is not None:
        return f"{item.git.source}: {item.git.path}"[:200]
    if item.name:
        return item.name[:200]
    for line in item.text.splitlines():
        line = line.strip().rstrip("{").strip()
        # A line of braces or a bare keyword ("events {}", "http {") says nothing.
        if len(line) >= 12 and any(c.isalpha() for c in line):
            return line[:79] + "…" if len(line) > 80 else line
    return str(scenario.title)


@transaction.atomic
def create_run(
    user: Any, scenario: Scenario, item: Input, analysis: Analysis, explain: bool = True
) -> Run:
    """Store an analysis; its explanation waits for the page (or a task) to start it."""
    git = item.git
    wanted = explain and scenario.explains
    return Run.objects.create(
        user=user,
        scenario=scenario.slug,
        title=title_for(scenario, item),
        origin=item.origin,
        input_name=item.name[:500],
        input_text=item.text,
        params=item.params,
        input_source_id=git.source_id if git else None,
        input_ref=git.ref if git else "",
        input_commit=git.commit if git else "",
        input_link=git.link[:2000] if git else "",
        findings=[f.to_dict() for f in analysis.findings],
        facts=analysis.facts,
        grounding=list(analysis.grounding),
        failed=analysis.failed,
        source_ids=[git.source_id] if git else [],
        status=Run.Status.PENDING if wanted else Run.Status.NONE,
    )


@transaction.atomic
def request_explanation(run: Run) -> bool:
    """Ask for an explanation (again) of a run that is not being explained now."""
    updated = (
        Run.objects.filter(pk=run.pk)
        .exclude(status__in=(Run.Status.STREAMING, Run.Status.PENDING))
        .update(status=Run.Status.PENDING, error="")
    )
    run.refresh_from_db(fields=["status", "error"])
    return bool(updated)


@transaction.atomic
def begin_explanation(run_id: int, owner_channel: str) -> Run | None:
    """Mark a pending explanation as being written by this process; None when it is not
    pending (another socket or worker took it first)."""
    now = timezone.now()
    taken = Run.objects.filter(pk=run_id, status=Run.Status.PENDING).update(
        status=Run.Status.STREAMING,
        answer="",
        error="",
        checks=[],
        citations=[],
        stream_seq=0,
        owner_channel=owner_channel,
        heartbeat_at=now,
        finished=None,
        rating=None,
        comment="",
    )
    return Run.objects.get(pk=run_id) if taken else None


@transaction.atomic
def cancel_pending(run_id: int, error: str) -> None:
    """An explanation that could not start (a limit said no): back to not requested."""
    Run.objects.filter(pk=run_id, status=Run.Status.PENDING).update(
        status=Run.Status.NONE, error=error
    )


START_FIELDS = ("backend", "model", "tier", "development", "citations", "source_ids")


@transaction.atomic
def flush_explanations(rows: list[tuple[int, str, int]], starts: dict[int, dict[str, Any]]) -> None:
    """Save the text so far of explanations being written: (run id, text, frame number),
    and for those whose model just answered, which model and sources."""
    now = timezone.now()
    for run_id, start in starts.items():
        extra = {k: v for k, v in start.items() if k in START_FIELDS}
        if extra:
            Run.objects.filter(pk=run_id, status=Run.Status.STREAMING).update(**extra)
    for run_id, text, seq in rows:
        Run.objects.filter(pk=run_id, status=Run.Status.STREAMING).update(
            answer=text, stream_seq=seq, heartbeat_at=now
        )


FINAL_FIELDS = (
    *START_FIELDS,
    "status",
    "error",
    "ttft_s",
    "prompt_tokens",
    "completion_tokens",
    "tokens_per_s",
    "checks",
    "echo",
)


@transaction.atomic
def finish_explanation(run_id: int, text: str, seq: int, fields: dict[str, Any]) -> dict[str, Any]:
    """Store the final explanation with its metrics and checks; returns the stored values."""
    values = {k: v for k, v in fields.items() if k in FINAL_FIELDS}
    values.update(answer=text, stream_seq=seq, owner_channel="", finished=timezone.now())
    if "source_ids" in values:
        before = Run.objects.filter(pk=run_id).values_list("source_ids", flat=True).first() or []
        values["source_ids"] = sorted({*before, *values["source_ids"]})
    Run.objects.filter(pk=run_id).update(**values)
    return values


def checks_as_data(checks: list[Check]) -> list[dict[str, Any]]:
    return [c.to_dict() for c in checks]


@transaction.atomic
def abandon_stale(run_id: int, stale_before: Any) -> bool:
    """Mark an explanation whose writing process is gone as interrupted; True if it was."""
    return bool(
        Run.objects.filter(
            pk=run_id, status=Run.Status.STREAMING, heartbeat_at__lt=stale_before
        ).update(
            status=Run.Status.INTERRUPTED,
            error=STALE_ERROR,
            owner_channel="",
            finished=timezone.now(),
        )
    )


@transaction.atomic
def share(run: Run) -> str:
    """The run's share token, made on first use."""
    if not run.share_token:
        run.share_token = secrets.token_urlsafe(24)
        run.save(update_fields=["share_token"])
    return run.share_token


@transaction.atomic
def unshare(run: Run) -> None:
    run.share_token = ""
    run.save(update_fields=["share_token"])


@transaction.atomic
def set_feedback(run: Run, rating: int, comment: str = "") -> Run:
    if not run.explained:
        raise RunError(_("Feedback is for a written explanation."))
    if rating not in (1, -1):
        raise RunError(_("Choose thumbs up or thumbs down."))
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise RunError(_("A comment can be at most %(n)d characters.") % {"n": MAX_COMMENT})
    run.rating, run.comment = rating, comment
    run.save(update_fields=["rating", "comment"])
    return run


@transaction.atomic
def delete_run(run: Run) -> None:
    run.delete()
