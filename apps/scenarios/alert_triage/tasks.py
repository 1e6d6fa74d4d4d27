"""Celery tasks of alert triage (JSON arguments, idempotent, time-limited); jobs.submit()
chooses between them, the worker thread of an eager setup, and inline calls."""

from __future__ import annotations

from celery import shared_task

from apps.scenarios.alert_triage import jobs


@jobs.job("alert_triage.process")
@shared_task(name="alert_triage.process", time_limit=300, soft_time_limit=290)
def process(payload_id: int) -> int:
    from apps.scenarios.alert_triage.actions import process as run

    return len(run(payload_id))


@jobs.job("alert_triage.process_many")
@shared_task(name="alert_triage.process_many", time_limit=900, soft_time_limit=890)
def process_many(payload_ids: list[int]) -> int:
    """The calls one webhook batch stored, in the order they arrived."""
    from apps.scenarios.alert_triage.actions import process as run

    return sum(len(run(pk)) for pk in payload_ids)


@jobs.job("alert_triage.triage")
@shared_task(name="alert_triage.triage", time_limit=120, soft_time_limit=110)
def triage(alert_id: int) -> None:
    from apps.scenarios.alert_triage.actions import triage as run

    run(alert_id)


@jobs.job("alert_triage.deliver")
@shared_task(name="alert_triage.deliver", time_limit=60, soft_time_limit=50)
def deliver(delivery_id: int) -> str:
    from apps.scenarios.alert_triage.delivery import deliver as run

    return run(delivery_id)


@jobs.job("alert_triage.sweep")
@shared_task(name="alert_triage.sweep", time_limit=120, soft_time_limit=110)
def sweep() -> int:
    """Run from Celery beat every minute with a broker; at start-up of the worker thread."""
    from apps.scenarios.alert_triage.actions import sweep as run

    return run()
