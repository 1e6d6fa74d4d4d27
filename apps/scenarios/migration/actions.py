"""The RabbitMQ targets a user may use (engine/targets.py) and per-user step progress."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet

from apps.scenarios.engine import targets
from apps.scenarios.migration.models import RabbitTarget, StepProgress

if TYPE_CHECKING:  # scenarios.models imports this package's models: no cycle at run time
    from apps.scenarios.models import Run


def usable_by(user: Any) -> QuerySet[RabbitTarget]:
    return targets.usable_by(RabbitTarget, user)


def step_ids(run: Run) -> list[str]:
    return [str(s.get("id")) for s in (run.facts or {}).get("steps", [])]


def set_progress(run: Run, user: Any, step: str, state: str, note: str = "") -> StepProgress | None:
    """Record where the user is with one step; state "" clears it."""
    if step not in step_ids(run):
        raise ValueError(step)
    if state and state not in StepProgress.State.values:
        raise ValueError(state)
    with transaction.atomic():
        if not state:
            StepProgress.objects.filter(run=run, user=user, step=step).delete()
            return None
        row, _created = StepProgress.objects.update_or_create(
            run=run, user=user, step=step, defaults={"state": state, "note": note[:1000]}
        )
    return row


def progress_of(run: Run, user: Any) -> dict[str, StepProgress]:
    return {p.step: p for p in StepProgress.objects.filter(run=run, user=user)}
