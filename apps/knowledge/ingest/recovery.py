"""Index jobs whose runner died: noticed by their heartbeat, queued again, resumed.

A running job's heartbeat is written by a thread beside the runner (Heartbeat) every quarter
of KNOWLEDGE_JOB_STALE_SECONDS, however long one document takes. A RUNNING job whose
heartbeat is older than that lost its runner: a worker killed (SIGKILL, OOM, a node lost)
or a portal stopped mid-job. Celery does not give such a task back soon by itself: with
acks_late its message stays unacknowledged in Redis until the broker's visibility timeout
(an hour). recover_stale() puts the job back in the queue and sends it; the run resumes
where the documents stand (indexing.JobRunner.resumed). It is called by every Celery worker
every half stale period (watch_jobs, from worker start), by `knowledge.sync_due_sources`
(the scheduler) and, in local mode, by the portal's own scheduler thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from apps.knowledge.models import IndexJob, Source

log = logging.getLogger(__name__)

RESUMED = "resumed after the process running it stopped"
REPLACED = "interrupted (the process running it stopped); the sync queued after it replaces it"


def stale_after() -> timedelta:
    """A running job whose heartbeat is older than this has lost its runner."""
    return timedelta(seconds=settings.KNOWLEDGE_JOB_STALE_SECONDS)


def heartbeat_seconds() -> float:
    return settings.KNOWLEDGE_JOB_STALE_SECONDS / 4


class Heartbeat:
    """Writes a running job's heartbeat from a thread of its own until stop()."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    @classmethod
    def start(cls, job_id: int) -> Heartbeat:
        beat = cls(job_id)
        # Inside a transaction (a command that waits, a test) the job's row is locked by it
        # and invisible to another connection: the runner's own progress saves beat there.
        if not connection.in_atomic_block:
            beat.thread = threading.Thread(
                target=beat._beat, name=f"index-job-{job_id}-heartbeat", daemon=True
            )
            beat.thread.start()
        return beat

    def _beat(self) -> None:
        try:
            while not self.stopped.wait(heartbeat_seconds()):
                try:
                    IndexJob.objects.filter(pk=self.job_id, state=IndexJob.State.RUNNING).update(
                        heartbeat=timezone.now()
                    )
                except Exception:
                    log.warning("heartbeat of index job %s not written", self.job_id, exc_info=True)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=30)


def recover_stale(send: Callable[[IndexJob], None]) -> list[int]:
    """Queue again every running job that lost its runner, and send it with `send`; returns
    the ids sent. Safe from many processes at once: one of them takes each job. When a sync
    of the same source is already queued behind the dead job, that one is sent instead (it
    lists the source afresh and does the same work; it becomes a rebuild if the dead job was
    one)."""
    stale = timezone.now() - stale_after()
    sent: list[int] = []
    dead = IndexJob.objects.filter(state=IndexJob.State.RUNNING, heartbeat__lt=stale)
    for job_id, source_id in list(dead.values_list("pk", "source_id")):
        with transaction.atomic():
            Source.objects.select_for_update().filter(pk=source_id).first()
            job = IndexJob.objects.filter(
                pk=job_id, state=IndexJob.State.RUNNING, heartbeat__lt=stale
            ).first()
            if job is None:
                continue  # taken by another process, or it beat again meanwhile
            queued = (
                IndexJob.objects.filter(source_id=source_id, state=IndexJob.State.QUEUED)
                .order_by("pk")
                .first()
            )
            if queued is None:
                job.state, job.message = IndexJob.State.QUEUED, RESUMED
                job.save(update_fields=["state", "message"])
                target = job
            else:
                job.state, job.message = IndexJob.State.FAILED, REPLACED
                job.finished = timezone.now()
                job.save(update_fields=["state", "message", "finished"])
                if job.kind == IndexJob.Kind.REBUILD and queued.kind != job.kind:
                    queued.kind = job.kind
                    queued.save(update_fields=["kind"])
                target = queued
        log.warning("index job %s lost its runner; sending job %s again", job_id, target.pk)
        send(target)
        sent.append(target.pk)
    return sent


def watch_jobs() -> None:
    """Recover jobs every half stale period, forever (a daemon thread of each worker)."""
    from apps.knowledge.tasks import requeue

    while True:
        try:
            recover_stale(requeue)
        except Exception:
            log.exception("recovering index jobs failed")
        finally:
            close_old_connections()
        time.sleep(max(1.0, settings.KNOWLEDGE_JOB_STALE_SECONDS / 2))
