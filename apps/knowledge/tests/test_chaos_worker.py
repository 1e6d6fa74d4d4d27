"""Chaos: the Celery worker killed (SIGKILL, the whole process group) halfway through the
rebuild of a source with many documents, on the production set: PostgreSQL, a real
`celery -A portal worker` process whose broker is a redis-server of this test's own (the
machine's Redis is never touched), and the embedded Qdrant the test set uses (QDRANT_PATH:
one process owns the directory, here the worker; the test reads it after the workers stop).

A new worker is started: it takes the job up again and finishes it, every chunk is in the index
exactly once (points counted per document), and the job the admin sees ends "done" with every
document counted once, not stuck "running"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from apps.knowledge.ingest.jobs import create_job
from apps.knowledge.models import Document, IndexJob, Source
from apps.knowledge.store import qdrant
from apps.scenarios.tests.redis_servers import RedisServer
from common.testing import database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.chaos,
    pytest.mark.timeout(180),
    # The test process is eager; the job goes to the workers' broker by name all the same.
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]

ROOT = Path(settings.BASE_DIR)
DOCUMENTS = 100  # one chunk each; the runner writes 64 chunks at a time
STALE_SECONDS = 4  # KNOWLEDGE_JOB_STALE_SECONDS of the workers: a dead one is noticed fast


def _write_documents(root: Path) -> None:
    for n in range(DOCUMENTS):
        step = (
            f"On node-{n} check the unit opsdesk-{n} with `systemctl status opsdesk-{n}` "
            f"and its journal for error code E{n}. "
        )
        (root / f"runbook-{n:03d}.md").write_text(f"# Runbook {n}\n\n## Check\n\n{step * 3}\n")


class Worker:
    """A real Celery worker process in its own process group (its pool children with it)."""

    def __init__(self, env: dict[str, str], name: str, log: Path) -> None:
        self.log = log
        self.out = open(log, "w")  # noqa: SIM115
        command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-n", f"{name}@%h"]
        command += ["--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO"]
        command += ["--without-gossip", "--without-mingle"]
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def ready(self) -> Worker:
        deadline = time.monotonic() + 90
        while "ready." not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the worker did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)
        return self

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.out.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # a warm shutdown: the task under way finishes first
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.out.close()


@pytest.fixture
def broker() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def worker_env(broker: RedisServer, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": broker.url,
        "CELERY_EAGER": "0",
        "QDRANT_URL": "",
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "KNOWLEDGE_DIRECTORY_ROOTS": str(tmp_path),
        "KNOWLEDGE_JOB_STALE_SECONDS": str(STALE_SECONDS),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }


def _send(broker: RedisServer, job_id: int) -> None:
    """Queue the job's task on the workers' broker, as the portal does with a Qdrant server."""
    from portal.celery import app

    with app.connection_for_write(broker.url) as connection:
        app.send_task("knowledge.run_index_job", args=[job_id], connection=connection)


def _job(pk: int) -> IndexJob:
    return IndexJob.objects.get(pk=pk)


def _points(path: Path) -> list[dict[str, Any]]:
    """Every point's document and chunk number, read from the index the workers wrote."""
    qdrant.close()
    settings.QDRANT_URL, settings.QDRANT_PATH = "", str(path)
    found: list[dict[str, Any]] = []
    try:
        qc = qdrant.client()
        offset = None
        while True:
            points, offset = qc.scroll(
                qdrant.alias(), limit=1000, offset=offset, with_payload=["doc", "chunk_index"]
            )
            found += [dict(p.payload or {}) for p in points]
            if offset is None:
                return found
    finally:
        qdrant.close()


def test_worker_killed_mid_rebuild_resumes_without_duplicates(
    admin_user: Any, broker: RedisServer, worker_env: dict[str, str], tmp_path: Path
) -> None:
    docs = tmp_path / "runbooks"
    docs.mkdir()
    _write_documents(docs)
    source = Source.objects.create(name="runbooks", type="directory", settings={"path": str(docs)})
    job = create_job(source, IndexJob.Kind.REBUILD, requested_by="admin")
    logs = Path(settings.VAR_DIR)
    first = Worker(worker_env, "first", logs / "chaos-worker-first.log")
    workers = [first]
    try:
        first.ready()
        _send(broker, job.pk)
        # Killed once its first batch of documents is in the index and recorded.
        deadline = time.monotonic() + 60
        while not Document.objects.filter(source=source).exists():
            assert time.monotonic() < deadline, _job(job.pk).progress()
            assert _job(job.pk).state in IndexJob.ACTIVE_STATES, _job(job.pk).progress()
            time.sleep(0.05)
        first.kill()
        before = dict(Document.objects.filter(source=source).values_list("pk", "indexed_at"))
        # Mid-index: some documents recorded, not all (the runner reads documents faster than
        # it embeds them, so its document count may already be near the end).
        assert _job(job.pk).state == IndexJob.State.RUNNING and len(before) < DOCUMENTS

        # A new worker: it finds the job whose runner died and takes it up.
        workers.append(Worker(worker_env, "second", logs / "chaos-worker-second.log").ready())

        deadline = time.monotonic() + 60
        while _job(job.pk).state != IndexJob.State.DONE:
            state = _job(job.pk)
            assert time.monotonic() < deadline, f"not finished: {state.progress()}"
            assert state.state != IndexJob.State.FAILED, state.progress()
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.stop()

    done = _job(job.pk)
    # The admin's view ends in a true state: done, every document counted once.
    assert done.docs_total == DOCUMENTS and done.docs_done == DOCUMENTS, done.progress()
    assert done.percent == 100 and not done.errors and done.finished is not None
    rows = {d.external_id: d for d in Document.objects.filter(source=source)}
    assert len(rows) == DOCUMENTS and all(not d.error and d.chunk_count for d in rows.values())
    assert done.chunks_done == sum(d.chunk_count for d in rows.values()), done.progress()
    client = Client()
    client.force_login(admin_user)
    page = client.get(reverse("knowledge_console:sources")).content.decode()
    assert f"{DOCUMENTS}/{DOCUMENTS}" in page and 'style="width: 100%"' in page

    # Resumed, not started over: what the killed worker had recorded was not embedded again.
    again = dict(Document.objects.filter(pk__in=before).values_list("pk", "indexed_at"))
    assert again == before and 0 < len(before) < DOCUMENTS
    assert done.message == "resumed after the process running it stopped"

    # Every chunk once: points counted per document match what each document's row says.
    points = _points(Path(worker_env["QDRANT_PATH"]))
    per_chunk = Counter((p["doc"], p["chunk_index"]) for p in points)
    assert max(per_chunk.values()) == 1, per_chunk.most_common(3)
    per_doc = Counter(p["doc"] for p in points)
    expected = {qdrant.doc_key(source.pk, key): d.chunk_count for key, d in rows.items()}
    assert dict(per_doc) == expected
