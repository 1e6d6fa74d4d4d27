"""Celery tasks of the knowledge app, and where a job actually runs.

With a Qdrant server (QDRANT_URL) jobs go to Celery workers like any task. In local mode the
index directory belongs to one process, so the process that queues a job runs it: inline for
commands (and tests), in a background thread for the web process.

Every worker also watches for jobs whose runner died (recovery.py) from the moment it is
ready, and sends them again through the broker, so a killed worker's job is taken up by the
workers still running or by the next one to start.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import AsyncIterator

from celery import shared_task
from celery.signals import worker_init, worker_ready
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from apps.knowledge.models import IndexJob, Source
from common.background import Background

log = logging.getLogger(__name__)

_background = Background()


@shared_task(name="knowledge.run_index_job", time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60)
def run_index_job(job_id: int) -> str:
    from apps.knowledge.ingest.jobs import run_job

    return run_job(job_id).state


@shared_task(name="knowledge.sync_due_sources", time_limit=300)
def sync_due_sources() -> int:
    """Send again the jobs whose runner died (recovery.py), then queue a sync for every
    enabled, unpaused source whose schedule has come round."""
    from apps.knowledge.ingest.jobs import create_job
    from apps.knowledge.ingest.recovery import recover_stale

    recover_stale(dispatch)
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
        _background.run(functools.partial(_in_thread, job.pk), name=f"index-job-{job.pk}")


def requeue(job: IndexJob) -> None:
    """Send a recovered job through the broker when a worker process found it (any worker
    may take it; in local mode only a worker that owns the index runs jobs), else as
    dispatch() would."""
    if settings.CELERY_TASK_ALWAYS_EAGER or inline_jobs():
        dispatch(job)
    else:
        run_index_job.delay(job.pk)


@worker_init.connect
def _import_embedding_library(**kwargs: object) -> None:
    """Import the embedding library (seconds of start-up) once, in the worker before its pool
    processes fork from it, rather than in each of them on its first index job: a job taken
    over from a worker that died starts at once."""
    import sentence_transformers  # noqa: F401


@worker_ready.connect
def _watch_jobs(**kwargs: object) -> None:
    from apps.knowledge.ingest.recovery import watch_jobs

    threading.Thread(target=watch_jobs, name="index-job-watch", daemon=True).start()


SCHEDULE_TICK = 60.0


def _schedule_until(stop: threading.Event) -> None:
    while not stop.wait(SCHEDULE_TICK):
        try:
            sync_due_sources()
        except Exception:
            log.exception("scheduled knowledge syncs failed")
        finally:
            close_old_connections()


@contextlib.asynccontextmanager
async def scheduler() -> AsyncIterator[None]:
    """In local mode no Celery beat can reach the index, so the web process that owns it
    checks source schedules every minute, for as long as the server runs (a background
    service, common/services.py; commands never start syncs of their own). With QDRANT_URL,
    Celery beat runs `knowledge.sync_due_sources` instead."""
    if settings.QDRANT_URL or inline_jobs():
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(
        target=_schedule_until, args=(stop,), name="knowledge-schedule", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()


def wait_for_background(timeout: float = 600) -> None:
    _background.wait(timeout)
