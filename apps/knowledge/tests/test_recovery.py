"""Which running jobs recovery.recover_stale() sends again, and how (the whole path, with a
worker killed for real, is test_chaos_worker.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.knowledge.ingest.recovery import REPLACED, RESUMED, recover_stale, stale_after
from apps.knowledge.models import IndexJob, Source

pytestmark = pytest.mark.django_db


def _source(name: str) -> Source:
    return Source.objects.create(name=name, type="directory", settings={"path": "/nowhere"})


def _running(source: Source, beat_ago: timedelta, kind: str = IndexJob.Kind.SYNC) -> IndexJob:
    now = timezone.now()
    return IndexJob.objects.create(
        source=source, kind=kind, state=IndexJob.State.RUNNING, started=now - beat_ago,
        heartbeat=now - beat_ago,
    )  # fmt: skip


def test_only_jobs_whose_heartbeat_stopped_are_sent_again() -> None:
    dead = _running(_source("dead"), stale_after() * 2)
    alive = _running(_source("alive"), stale_after() / 4)
    sent: list[int] = []
    assert recover_stale(lambda job: sent.append(job.pk)) == [dead.pk] == sent
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.state == IndexJob.State.QUEUED and dead.message == RESUMED
    assert dead.started is not None  # kept: the next run resumes from it
    assert alive.state == IndexJob.State.RUNNING and alive.message == ""
    # Sent once: a second sweep (another worker) finds nothing left to take.
    assert recover_stale(lambda job: sent.append(job.pk)) == [] and sent == [dead.pk]


def test_a_sync_queued_behind_a_dead_rebuild_replaces_it_as_a_rebuild() -> None:
    source = _source("runbooks")
    dead = _running(source, stale_after() * 2, kind=IndexJob.Kind.REBUILD)
    queued = IndexJob.objects.create(source=source, kind=IndexJob.Kind.SYNC)
    assert recover_stale(lambda job: None) == [queued.pk]
    dead.refresh_from_db()
    queued.refresh_from_db()
    assert dead.state == IndexJob.State.FAILED and dead.message == REPLACED and dead.finished
    assert queued.state == IndexJob.State.QUEUED and queued.kind == IndexJob.Kind.REBUILD


def test_the_console_shows_a_job_whose_worker_died_as_stalled(admin_client: Client) -> None:
    source = _source("runbooks")
    job = _running(source, stale_after() * 2)
    page = admin_client.get(reverse("knowledge_console:sources")).content.decode()
    assert "остановилось" in page and "перестал отвечать" in page
    job.heartbeat = timezone.now()
    job.save(update_fields=["heartbeat"])
    page = admin_client.get(reverse("knowledge_console:sources")).content.decode()
    assert "остановилось" not in page and "выполняется" in page
    form = admin_client.get(reverse("knowledge_console:source_edit", args=[source.pk]))
    assert "выполняется" in form.content.decode()
