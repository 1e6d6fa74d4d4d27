"""Celery tasks of the knowledge app, and where a job actually runs.

With a Qdrant server (QDRANT_URL) jobs go to Celery workers like any task. In local mode the
index directory belongs to one process, so the process that queues a job runs it: inline for
commands (and tests), in a background thread for the web process.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import shared_task
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from apps.knowledge.models import IndexJob, Source

log = logging.getLogger(__name__)

_threads: list[threading.Thread] = []


@shared_task(name="knowledge.run_index_job", time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60)
def run_index_job(job_id: int) -> str:
    from apps.knowledge.indexing import run_job

    return run_job(job_id).state


@shared_task(name="knowledge.sync_due_sources", time_limit=300)
def sync_due_sources() -> int:
    """Queue a sync for every enabled, unpaused source whose schedule has come round."""
    from apps.knowledge.indexing import create_job

    started = 0
    now = timezone.now()
    for source in Source.objects.filter(enabled=True, paused=False, schedule_minutes__isnull=False):
        minutes = source.schedule_minutes or 0
        if source.last_synced and (now - source.last_synced).total_seconds() < minutes * 60:
            continue
        job = create_job(source, requested_by="schedule")
        if job.state == IndexJob.State.QUEUED:
            dispatch(job)
            started += 1
    return started


def _in_thread(job_id: int) -> None:
    try:
        run_index_job(job_id)
    except Exception:
        log.exception("index job %s failed", job_id)
    finally:
        close_old_connections()


def inline_jobs() -> bool:
    return bool(getattr(settings, "KNOWLEDGE_JOBS_INLINE", False))


def dispatch(job: IndexJob, wait: bool = False) -> None:
    """Run the job where the index can be written (see the module docstring)."""
    if wait or inline_jobs():
        run_index_job(job.pk)
    elif settings.QDRANT_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
        run_index_job.delay(job.pk)
    else:
        thread = threading.Thread(
            target=_in_thread, args=(job.pk,), name=f"index-job-{job.pk}", daemon=True
        )
        _threads[:] = [t for t in _threads if t.is_alive()] + [thread]
        thread.start()


SCHEDULE_TICK = 60.0
_scheduler: threading.Thread | None = None
_scheduler_lock = threading.Lock()


def _schedule_forever() -> None:
    while True:
        time.sleep(SCHEDULE_TICK)
        try:
            sync_due_sources()
        except Exception:
            log.exception("scheduled knowledge syncs failed")
        finally:
            close_old_connections()


def ensure_scheduler() -> None:
    """In local mode no Celery beat can reach the index, so the web process that owns it
    checks source schedules every minute; called from the knowledge pages (never from
    commands, which must not start syncs of their own). With QDRANT_URL, run
    `knowledge.sync_due_sources` from Celery beat instead."""
    global _scheduler
    if settings.QDRANT_URL or inline_jobs():
        return
    with _scheduler_lock:
        if _scheduler is None or not _scheduler.is_alive():
            _scheduler = threading.Thread(
                target=_schedule_forever, name="knowledge-schedule", daemon=True
            )
            _scheduler.start()


def wait_for_background(timeout: float = 600) -> None:
    for thread in list(_threads):
        thread.join(timeout)
