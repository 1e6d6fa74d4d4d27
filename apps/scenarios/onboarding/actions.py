"""Every write to onboarding progress goes through these functions."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from apps.scenarios.models import Run
from apps.scenarios.onboarding.models import Track, TrackProgress

MAX_NOTE = 2000
STATES = {"done", "skipped", "blocked", "open"}


class ProgressError(ValueError):
    """A progress change that cannot be made; the message says why."""


@transaction.atomic
def set_progress(
    user: Any, track: Track, step: str, state: str, note: str = ""
) -> TrackProgress | None:
    """Mark a step done, skipped or blocked (a note saying on what is required), or open
    again (the row goes). Returns the row, None when the step is open."""
    if track.step(step) is None:
        raise ProgressError(_("The track has no step %(step)r.") % {"step": step})
    if state not in STATES:
        raise ProgressError(_("Unknown state %(state)r.") % {"state": state})
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ProgressError(_("The note is longer than %(n)d characters.") % {"n": MAX_NOTE})
    if state == "blocked" and not note:
        raise ProgressError(_("Say what blocks the step, so that your lead can help."))
    if state == "open":
        TrackProgress.objects.filter(user=user, track=track, step=step).delete()
        return None
    row, _created = TrackProgress.objects.update_or_create(
        user=user, track=track, step=step, defaults={"state": state, "note": note}
    )
    return row


@transaction.atomic
def answer_question(
    user: Any, track: Track | None, question: str, origin: str, request_id: str = ""
) -> Run:
    """A question run being answered right away by the caller (the messenger assistant),
    not by a page: it starts as streaming, so no page starts a second answer to it; the
    caller stores the answer with scenarios.actions.finish_explanation. Without a track it
    reads the sources tagged "onboarding" only (see access.scope). `request_id` (kept in
    params) lets the caller see that a request was taken already."""
    from django.utils import timezone

    from apps.scenarios.onboarding.scenario import QUESTION

    facts = {"kind": QUESTION, "question": question, "track": track.name if track else ""}
    facts["step"] = ""
    return Run.objects.create(
        user=user,
        scenario="onboarding",
        title=question[:200],
        origin=origin,
        input_name=track.path[:500] if track else "",
        input_text=question,
        params={"track": facts["track"], "step": "", "request": request_id},
        facts=facts,
        status=Run.Status.STREAMING,
        heartbeat_at=timezone.now(),
    )
