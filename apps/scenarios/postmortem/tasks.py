"""Celery task of post-mortems: the weekly digest (queued every minute by the scheduler,
sent once per week)."""

from __future__ import annotations

from celery import shared_task

from apps.scenarios.alert_triage import jobs


@shared_task(name="postmortem.weekly_digest", time_limit=120, soft_time_limit=110)
def weekly_digest() -> str:
    from apps.scenarios.postmortem.auto import weekly_digest as run

    digest = run()
    return digest.week if digest else ""


@jobs.job("postmortem.incident_closed")
@shared_task(name="postmortem.incident_closed", time_limit=300, soft_time_limit=290)
def incident_closed(incident_id: int) -> int:
    """Draft a closed incident's post-mortem and post its summary (once per incident)."""
    from apps.scenarios.postmortem.incidents import on_closed

    row = on_closed(incident_id)
    return row.pk if row else 0
