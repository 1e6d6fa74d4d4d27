"""Indexing: incremental, idempotent after a kill, per-document errors that do not stop a job."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from qdrant_client import QdrantClient

from apps.knowledge.models import Document, IndexJob, Source
from apps.knowledge.store import qdrant
from apps.knowledge.tests.conftest import chunks_of
from common.testing import database_url

ROOT = Path(settings.BASE_DIR)
WORDS = [
    "pod",
    "node",
    "restart",
    "memory",
    "disk",
    "inode",
    "queue",
    "consumer",
    "replica",
    "failover",
    "certificate",
    "ingress",
    "latency",
    "alert",
    "backlog",
    "snapshot",
    "shard",
    "cluster",
    "rollout",
    "probe",
    "volume",
    "eviction",
    "timeout",
]


def write_docs(folder: Path, count: int, paragraphs: int = 4, seed: int = 0) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        body = [f"# Runbook {n}\n"]
        for p in range(paragraphs):
            body.append(
                f"## Step {p}\n\n" + " ".join(rng.choice(WORDS) for _ in range(180)) + ".\n"
            )
        (folder / f"doc{n:03}.md").write_text("\n".join(body))


@pytest.mark.django_db
def test_incremental_sync_skips_unchanged_reindexes_changed_removes_deleted(
    tmp_path: Path, ingest
) -> None:
    write_docs(tmp_path, 5)
    job = ingest(tmp_path, "incremental")
    source = Source.objects.get(name="incremental")
    assert job.state == IndexJob.State.DONE and job.docs_total == 5 and job.docs_skipped == 0
    total = sum(d.chunk_count for d in source.documents.all())
    assert total == job.chunks_done == chunks_of(source) > 5
    assert job.throughput > 0

    again = ingest(tmp_path, "incremental")
    assert again.docs_skipped == 5 and again.chunks_done == 0
    assert chunks_of(source) == total

    # Same content, new mtime: read and hashed, but not re-embedded.
    os.utime(tmp_path / "doc000.md", (time.time() + 5, time.time() + 5))
    (tmp_path / "doc001.md").write_text("# Short now\n\nOnly one small paragraph about pods.\n")
    (tmp_path / "doc002.md").unlink()
    third = ingest(tmp_path, "incremental")
    assert third.docs_total == 4 and third.docs_skipped == 3 and third.docs_removed == 1
    assert not source.documents.filter(external_id="doc002.md").exists()
    short = source.documents.get(external_id="doc001.md")
    assert short.chunk_count == 1 and short.title == "Short now"
    expected = sum(d.chunk_count for d in source.documents.all())
    assert chunks_of(source) == expected  # the old chunks of doc001 and doc002 are gone


@pytest.mark.django_db
def test_documents_changed_in_one_run_each_lose_only_their_own_old_chunks(
    tmp_path: Path, ingest
) -> None:
    """A batch's documents have their stale chunks removed together (one delete for the
    batch): two pages that shrank lose their old tails, one that grew keeps all its new
    chunks, an unchanged one keeps everything."""
    from qdrant_client import models as qm

    kb, edited = tmp_path / "kb", tmp_path / "edited"
    write_docs(kb, 4, paragraphs=8)
    ingest(kb, "together")
    source = Source.objects.get(name="together")
    before = {d.external_id: d.chunk_count for d in source.documents.all()}
    assert min(before.values()) > 2
    write_docs(edited / "short", 2, paragraphs=1, seed=1)
    write_docs(edited / "long", 3, paragraphs=14, seed=2)
    for name, new in (("doc000.md", "short"), ("doc001.md", "short"), ("doc002.md", "long")):
        (kb / name).write_text((edited / new / name).read_text())
    ingest(kb, "together")

    rows = {d.external_id: d.chunk_count for d in source.documents.all()}
    assert rows["doc000.md"] < before["doc000.md"] and rows["doc001.md"] < before["doc001.md"]
    assert rows["doc002.md"] > before["doc002.md"] and rows["doc003.md"] == before["doc003.md"]
    for external_id, expected in rows.items():
        key = qdrant.doc_key(source.pk, external_id)
        flt = qm.Filter(must=[qm.FieldCondition(key="doc", match=qm.MatchValue(value=key))])
        assert qdrant.count(qdrant.alias(), flt) == expected, external_id


@pytest.mark.django_db
def test_bad_files_get_per_document_errors_and_the_job_goes_on(tmp_path: Path, ingest) -> None:
    write_docs(tmp_path, 2)
    (tmp_path / "empty.txt").write_bytes(b"")
    rng = random.Random(1)
    (tmp_path / "junk.md").write_bytes(bytes(rng.randrange(256) for _ in range(20000)))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage")
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 definitely not a zip archive")
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as f:  # a sparse 200 MB file: costs no disk, and must not be read
        f.truncate(200 * 1024 * 1024)
    job = ingest(tmp_path, "with-errors")
    assert job.state == IndexJob.State.DONE
    errors = {e["path"]: e["error"] for e in job.errors}
    assert "empty" in errors["empty.txt"], errors
    assert "binary" in errors.get("junk.md", ""), errors
    assert "PDF" in errors["broken.pdf"]
    assert "DOCX" in errors["broken.docx"]
    assert "200 MB" in errors["huge.txt"] and "limit" in errors["huge.txt"]
    source = Source.objects.get(name="with-errors")
    good = source.documents.filter(error="")
    assert good.count() == 2 and all(d.chunk_count > 0 for d in good)
    assert chunks_of(source) == sum(d.chunk_count for d in good)


def _wait_for_other_sessions(timeout: float = 30) -> None:
    """Until no other session of the test database runs a statement or holds a transaction.
    PostgreSQL ends a killed client's session when it finds the socket closed, but finishes
    a statement the client had sent first. SQLite has no server: a dead process writes
    nothing more."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
                "AND state IS DISTINCT FROM 'idle'"
            )
            busy = cursor.fetchone()[0]
            if not busy:
                return
            assert time.monotonic() < deadline, f"{busy} sessions still busy after {timeout} s"
            time.sleep(0.1)


def _count_by_doc(path: str, collection: str) -> dict[str, int]:
    if settings.QDRANT_ENGINE == "edge":
        from apps.knowledge.store.edge import EdgeStore

        qc: Any = EdgeStore(path)
    else:
        qc = QdrantClient(path=path)
    try:
        counts: dict[str, int] = {}
        offset = None
        while True:
            points, offset = qc.scroll(
                collection, limit=1000, offset=offset, with_payload=["doc", "chunk_index"]
            )
            for p in points:
                key = str((p.payload or {})["doc"])
                counts[key] = counts.get(key, 0) + 1
            if offset is None:
                return counts
    finally:
        qc.close()


@pytest.mark.django_db(transaction=True)
def test_killed_run_rerun_leaves_exactly_the_right_chunks(tmp_path: Path) -> None:
    """A real `knowledge ingest` in another process is killed mid-way, then run again."""
    docs = tmp_path / "docs"
    write_docs(docs, 60, paragraphs=5, seed=7)
    qdrant_dir = tmp_path / "qdrant"  # its own directory: the test process holds the other
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "QDRANT_PATH": str(qdrant_dir),
        "QDRANT_URL": "",
        "PYTHONPATH": str(ROOT),
        "KNOWLEDGE_DIRECTORY_ROOTS": ",".join(map(str, settings.KNOWLEDGE_DIRECTORY_ROOTS)),
    }
    cmd = [
        sys.executable,
        str(ROOT / "manage.py"),
        "knowledge",
        "ingest",
        str(docs),
        "--source",
        "killed",
    ]
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        job = IndexJob.objects.filter(source__name="killed").first()
        if job and job.chunks_done >= 40:
            break
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    job = IndexJob.objects.get(source__name="killed")
    assert job.state == IndexJob.State.RUNNING and 0 < job.docs_done < 60  # really halfway
    partial = Document.objects.filter(source__name="killed").count()
    assert partial < 60

    # Make the killed job look stale at once instead of waiting for its heartbeat to age, once
    # nothing it sent can land after that (a progress save sent before the kill would put a
    # fresh heartbeat back, and the rerun would find the job still running).
    _wait_for_other_sessions()
    IndexJob.objects.filter(pk=job.pk).update(heartbeat=job.created - timedelta(minutes=10))
    rerun = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    source = Source.objects.get(name="killed")
    documents = {
        qdrant.doc_key(source.pk, d.external_id): d.chunk_count for d in source.documents.all()
    }
    assert len(documents) == 60
    collection = IndexJob.objects.filter(source=source, state=IndexJob.State.DONE).get().collection
    assert _count_by_doc(str(qdrant_dir), collection) == documents  # no duplicates, none missing
    assert IndexJob.objects.get(pk=job.pk).state == IndexJob.State.FAILED  # marked interrupted


@pytest.mark.django_db
def test_an_encoder_failing_mid_job_marks_only_written_documents_indexed(
    tmp_path: Path, ingest, monkeypatch
) -> None:
    """Batches are encoded on a thread beside the job. When one fails, the job fails with the
    encoder's error; the documents whose vectors never came are not marked indexed, the index
    holds exactly the chunks of those that are, and the next run indexes only the rest."""
    from apps.knowledge.ingest import jobs
    from apps.knowledge.store.embeddings import get_embedder

    write_docs(tmp_path, 12, paragraphs=5, seed=3)
    monkeypatch.setattr(jobs, "EMBED_BATCH", 8)  # several batches from twelve documents
    embedder = get_embedder()
    real = embedder.encode
    batches: list[int] = []

    def dies_on_the_third(texts: list[str]) -> Any:
        batches.append(len(texts))
        if len(batches) == 3:
            raise RuntimeError("encoder died")
        return real(texts)

    monkeypatch.setattr(embedder, "encode", dies_on_the_third)
    job = ingest(tmp_path, "flaky")
    assert job.state == IndexJob.State.FAILED and "encoder died" in job.message
    source = Source.objects.get(name="flaky")
    indexed = source.documents.filter(error="", chunk_count__gt=0)
    assert 0 < indexed.count() < 12
    assert chunks_of(source) == sum(d.chunk_count for d in indexed)

    monkeypatch.setattr(embedder, "encode", real)
    again = ingest(tmp_path, "flaky")
    assert again.state == IndexJob.State.DONE
    assert again.docs_skipped == indexed.count()  # what was written is not embedded again
    assert source.documents.filter(error="", chunk_count__gt=0).count() == 12
    assert chunks_of(source) == sum(d.chunk_count for d in source.documents.all())
