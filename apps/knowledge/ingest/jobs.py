"""One index job: list a source, re-index what changed, remove what disappeared.

Idempotent by construction: point ids are derived from (source, document id, chunk number),
so re-indexing overwrites; after writing a document's chunks its higher-numbered old chunks
are deleted; the Document row (hash, version) is saved only after Qdrant has the chunks. A
run killed anywhere and run again therefore ends with exactly one copy of every chunk.

A job run again after its runner died (recovery.py) resumes: the documents it had indexed
since it first started are counted, not embedded again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from qdrant_client import models as qm

from apps.knowledge.crypto import SecretsUnreadable
from apps.knowledge.ingest import progress
from apps.knowledge.ingest.chunking import Chunk, chunk_blocks
from apps.knowledge.ingest.connectors import ConnectorError, DocRef, FetchError, get_connector
from apps.knowledge.ingest.parsing import ParseError, parse
from apps.knowledge.ingest.recovery import Heartbeat, stale_after
from apps.knowledge.models import Collection, Document, IndexJob, Source
from apps.knowledge.search import crosslingual, glossary
from apps.knowledge.search.sparse import LATIN_TOKEN, document_vector, language
from apps.knowledge.store import qdrant
from apps.knowledge.store.embeddings import get_embedder

log = logging.getLogger(__name__)

EMBED_BATCH = 64  # chunks embedded and written together, across small documents
PROGRESS_EVERY = 1.0  # seconds between progress saves/broadcasts


def current_collection() -> str:
    """The collection for the configured embedding model, created on first use. The first
    one becomes active at once; a later one (model changed) is built beside the active one
    and swapped in by finish_generation() when every document is in it."""
    embedder = get_embedder()
    name = qdrant.collection_name(embedder.path, embedder.dim)
    qdrant.ensure_collection(name, embedder.dim)
    row, _ = Collection.objects.get_or_create(
        name=name, defaults={"model": embedder.path, "dim": embedder.dim}
    )
    if not Collection.objects.filter(state=Collection.State.ACTIVE).exists():
        activate(row)
    elif row.state == Collection.State.ACTIVE and qdrant.alias_target() != name:
        qdrant.point_alias_to(name)  # a fresh Qdrant directory under an existing database
    return name


def activate(row: Collection) -> None:
    qdrant.point_alias_to(row.name)
    old = list(Collection.objects.filter(state=Collection.State.ACTIVE).exclude(pk=row.pk))
    Collection.objects.filter(pk__in=[o.pk for o in old]).update(state=Collection.State.RETIRED)
    row.state = Collection.State.ACTIVE
    row.activated = timezone.now()
    row.save(update_fields=["state", "activated"])
    for o in old:
        qdrant.drop_collection(o.name)


def finish_generation(name: str) -> bool:
    """Swap the alias to `name` once no indexed document lives in another collection."""
    row = Collection.objects.filter(name=name).first()
    if row is None or row.state == Collection.State.ACTIVE:
        return False
    if Document.objects.filter(chunk_count__gt=0).exclude(collection=name).exists():
        return False
    activate(row)
    return True


def dense_passage(text: str) -> str:
    """What the dense vector of a chunk is computed from. The default model is English-only:
    a Russian chunk is represented by its Latin words (commands, names, errors) and the
    English glossary synonyms of its terms, as Russian queries are (retrieval.dense_query).
    The sparse vector and the stored text always use the chunk itself."""
    if settings.EMBEDDING_MODEL or language(text) != "ru":
        return text
    latin = " ".join(LATIN_TOKEN.findall(text))
    return f"{latin} {' '.join(glossary.english_for(text))}".strip() or text


@dataclass
class _Pending:
    ref: DocRef
    doc: Document | None
    content_hash: str
    title: str
    link: str
    lang: str
    chunks: list[Chunk] = field(default_factory=list)


@dataclass
class _Batch:
    """Chunks handed to the encoder thread, written to the index once their vectors come."""

    items: list[_Pending]
    texts: list[str]  # heading line + chunk: what the sparse vector and the vocabulary read
    vectors: Future[np.ndarray]


class JobRunner:
    def __init__(self, job: IndexJob):
        self.job = job
        self.source: Source = job.source
        self.pending: list[_Pending] = []
        self.pending_chunks = 0
        self.started = time.monotonic()
        self.last_progress = 0.0
        self.processed = 0  # documents actually parsed (not skipped)
        self.added: list[str] = []  # documents indexed for the first time (source_synced)
        self.groups = self.source.group_names() or [qdrant.PUBLIC]
        # Encoding is most of a job's time and runs outside the GIL: one batch is encoded on
        # this thread while the job's own thread parses the next documents and writes the
        # batch before (docs/benchmarks.md, "Indexing throughput").
        self.encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self.inflight: _Batch | None = None

    # --- bookkeeping ---------------------------------------------------------------------
    def progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_progress < PROGRESS_EVERY:
            return
        self.last_progress = now
        job = self.job
        elapsed = max(now - self.started, 1e-6)
        job.throughput = job.chunks_done / elapsed
        remaining = job.docs_total - job.docs_done
        job.eta_seconds = (elapsed / job.docs_done * remaining) if job.docs_done else None
        job.heartbeat = timezone.now()
        job.save(
            update_fields=[
                "docs_total",
                "docs_done",
                "docs_skipped",
                "docs_removed",
                "chunks_done",
                "chunks_total",
                "errors",
                "throughput",
                "eta_seconds",
                "heartbeat",
            ]
        )
        progress.job_progress(job)

    def error(self, ref: DocRef, message: str) -> None:
        self.job.errors = [
            *self.job.errors,
            {"path": ref.path or ref.external_id, "error": message},
        ][-500:]
        Document.objects.update_or_create(
            source=self.source,
            external_id=ref.external_id,
            defaults={
                "version": ref.version,
                "path": ref.path,
                "title": ref.title or ref.path,
                "link": ref.link,
                "size": ref.size,
                "error": message,
                "chunk_count": 0,
                "content_hash": "",
                "collection": self.collection,
                "indexed_at": timezone.now(),
            },
        )
        # What the index held for it no longer matches the source: take it out.
        qdrant.delete_document_tail(
            self.collection, qdrant.doc_key(self.source.pk, ref.external_id), 0
        )

    # --- the run -------------------------------------------------------------------------
    def run(self) -> None:
        job = self.job
        self.collection = current_collection()
        job.collection = self.collection
        connector = get_connector(self.source)
        connector.full = job.kind == IndexJob.Kind.REBUILD
        try:
            refs = list(connector.list_documents())
            # Counted afresh: a job run again after its runner died counts each document once.
            job.docs_done = job.docs_skipped = job.docs_removed = 0
            job.chunks_done = job.chunks_total = 0
            job.errors = []
            job.docs_total = len(refs)
            self.progress(force=True)
            existing = {d.external_id: d for d in self.source.documents.all()}
            for ref in refs:
                if Source.objects.filter(pk=self.source.pk, paused=True).exists():
                    self.drain()
                    job.state = IndexJob.State.PAUSED
                    job.message = "paused by an admin"
                    return
                self.one(connector, ref, existing.get(ref.external_id))
                job.docs_done += 1
                self.progress()
            self.drain()
            self.remove_missing({r.external_id for r in refs}, existing)
            qdrant.optimize(self.collection)
            state = connector.sync_state()
            if state is not None:
                Source.objects.filter(pk=self.source.pk).update(sync_state=state)
            job.state = IndexJob.State.DONE
        finally:
            # A batch still in flight after a failure is dropped unwritten: its documents'
            # rows do not say indexed, so the next run indexes them again.
            self.encoder.shutdown(wait=True, cancel_futures=True)
            connector.close()

    def resumed(self, ref: DocRef, doc: Document | None) -> bool:
        """Indexed by this very job before its runner died (the job started before, and this
        run goes on from there): counted as done, not embedded again."""
        since = self.job.started
        if doc is None or since is None or doc.indexed_at is None or doc.error:
            return False
        return (
            doc.collection == self.collection
            and doc.indexed_at >= since
            and doc.version == ref.version
            and bool(doc.content_hash)
        )

    def one(self, connector: Any, ref: DocRef, doc: Document | None) -> None:
        job = self.job
        if doc is not None and self.resumed(ref, doc):
            job.chunks_done += doc.chunk_count
            job.chunks_total += doc.chunk_count
            return
        fresh = (
            doc is not None and job.kind == IndexJob.Kind.SYNC and doc.collection == self.collection
        )
        if fresh and doc and doc.version == ref.version and not doc.error and ref.version:
            job.docs_skipped += 1
            return
        try:
            fetched = connector.fetch(ref)
            digest = hashlib.sha256(fetched.data).hexdigest()
            if fresh and doc and doc.content_hash == digest and not doc.error:
                doc.version = ref.version
                doc.save(update_fields=["version"])
                job.docs_skipped += 1
                return
            parsed = parse(fetched.data, fetched.name, fetched.content_type)
            chunks = chunk_blocks(parsed.blocks)
        except (ParseError, FetchError) as exc:
            self.error(ref, str(exc))
            return
        except Exception as exc:  # a parser bug on one odd file must not stop the job
            log.exception("indexing %s failed", ref.external_id)
            self.error(ref, f"{type(exc).__name__}: {exc}"[:500])
            return
        self.processed += 1
        body = "\n".join(c.text for c in chunks)
        self.pending.append(
            _Pending(
                ref,
                doc,
                digest,
                fetched.title or ref.title or parsed.title,
                fetched.link or ref.link,
                language(body),
                chunks,
            )
        )
        self.pending_chunks += len(chunks)
        job.chunks_total += len(chunks)
        if self.pending_chunks >= EMBED_BATCH:
            self.flush()

    def flush(self) -> None:
        """Hand the pending chunks to the encoder thread, then write the batch handed over
        before them, so encoding overlaps this thread's parsing and writing."""
        batch = None
        if self.pending:
            texts = []
            for item in self.pending:
                for chunk in item.chunks:
                    heading = " > ".join((item.title, *chunk.section))
                    texts.append(f"{heading}\n{chunk.text}")
            dense_texts = [dense_passage(text) for text in texts]
            batch = _Batch(
                self.pending, texts, self.encoder.submit(get_embedder().encode, dense_texts)
            )
            self.pending = []
            self.pending_chunks = 0
        if self.inflight is not None:
            self.write(self.inflight)
        self.inflight = batch

    def drain(self) -> None:
        """Everything parsed so far encoded and written."""
        while self.pending or self.inflight is not None:
            self.flush()

    def write(self, batch: _Batch) -> None:
        texts = batch.texts
        vectors = batch.vectors.result()
        now = timezone.now()
        points = []
        row = 0
        for item in batch.items:
            key = qdrant.doc_key(self.source.pk, item.ref.external_id)
            for n, chunk in enumerate(item.chunks):
                indices, values = document_vector(texts[row])
                points.append(
                    qm.PointStruct(
                        id=qdrant.point_id(self.source.pk, item.ref.external_id, n),
                        vector={
                            qdrant.DENSE: vectors[row].tolist(),
                            qdrant.SPARSE: qm.SparseVector(indices=indices, values=values),
                        },
                        payload={
                            "doc": key,
                            "source": self.source.name,
                            "source_id": self.source.pk,
                            "document_id": item.ref.external_id,
                            "path": item.ref.path,
                            "title": item.title,
                            "section": " > ".join(chunk.section),
                            "link": item.link,
                            "version": item.ref.version,
                            "language": item.lang,
                            "groups": self.groups,
                            "updated": now.isoformat(),
                            "chunk_index": n,
                            "text": chunk.text,
                        },
                    )
                )
                row += 1
        qdrant.upsert(self.collection, points)
        crosslingual.learn(texts)
        qdrant.delete_document_tails(
            self.collection,
            [
                (qdrant.doc_key(self.source.pk, item.ref.external_id), len(item.chunks))
                for item in batch.items
            ],
        )
        # Only now, with the chunks in Qdrant, do the rows say the documents are indexed; one
        # transaction for the batch's rows (one commit, not one per document).
        with transaction.atomic():
            for item in batch.items:
                if item.doc is None:
                    self.added.append(item.ref.external_id)
                Document.objects.update_or_create(
                    source=self.source,
                    external_id=item.ref.external_id,
                    defaults={
                        "version": item.ref.version,
                        "content_hash": item.content_hash,
                        "path": item.ref.path,
                        "title": item.title[:500],
                        "link": item.link,
                        "language": item.lang,
                        "size": item.ref.size,
                        "chunk_count": len(item.chunks),
                        "collection": self.collection,
                        "error": "",
                        "indexed_at": now,
                    },
                )
                self.job.chunks_done += len(item.chunks)

    def remove_missing(self, listed: set[str], existing: dict[str, Document]) -> None:
        gone = [d for key, d in existing.items() if key not in listed]
        for doc in gone:
            qdrant.delete_document_tail(
                self.collection, qdrant.doc_key(self.source.pk, doc.external_id), 0
            )
            doc.delete()
        self.job.docs_removed = len(gone)
        # Chunks of documents a killed run wrote before it could record them.
        known = {qdrant.doc_key(self.source.pk, e) for e in listed}
        for key in qdrant.source_doc_keys(self.collection, self.source.pk) - known:
            qdrant.delete_document_tail(self.collection, key, 0)


def _claim(job_id: int) -> tuple[IndexJob, bool]:
    """The job, and whether this call runs it: not when it is over or runs elsewhere, nor
    while another job of its source runs (that one starts it when it ends: _start_next). A
    running job whose runner stopped saving (a worker that died; Celery delivers its task
    again) is run again."""
    with transaction.atomic():
        job = IndexJob.objects.select_related("source").get(pk=job_id)
        Source.objects.select_for_update().get(pk=job.source_id)  # one claim per source
        job.refresh_from_db(fields=["state", "heartbeat"])
        if job.state not in IndexJob.ACTIVE_STATES:
            return job, False
        stale = timezone.now() - stale_after()
        if job.state == IndexJob.State.RUNNING and job.heartbeat and job.heartbeat >= stale:
            return job, False
        running = IndexJob.objects.filter(source_id=job.source_id, state=IndexJob.State.RUNNING)
        if running.exclude(pk=job.pk).filter(heartbeat__gte=stale).exists():
            return job, False
        job.state = IndexJob.State.RUNNING
        job.heartbeat = timezone.now()
        # The first start stays: a run after a dead one resumes from it (JobRunner.resumed).
        job.started = job.started or job.heartbeat
        job.save(update_fields=["state", "started", "heartbeat"])
    return job, True


def _start_next(source_id: int) -> None:
    """A sync asked for while this job ran (files uploaded meanwhile) runs now."""
    from apps.knowledge import tasks

    queued = IndexJob.objects.filter(source_id=source_id, state=IndexJob.State.QUEUED)
    follow = queued.order_by("pk").first()
    if follow is not None:
        tasks.dispatch(follow)


def run_job(job_id: int) -> IndexJob:
    job, mine = _claim(job_id)
    if not mine:
        return job
    runner = JobRunner(job)
    heartbeat = Heartbeat.start(job.pk)
    try:
        runner.run()
    except (ConnectorError, SecretsUnreadable, qdrant.IndexUnavailable) as exc:
        job.state = IndexJob.State.FAILED
        job.message = str(exc)
    except Exception as exc:
        log.exception("index job %s failed", job_id)
        job.state = IndexJob.State.FAILED
        job.message = f"{type(exc).__name__}: {exc}"[:1000]
    finally:
        heartbeat.stop()
    job.finished = timezone.now()
    runner.progress(force=True)
    job.save(update_fields=["state", "message", "finished", "collection"])
    if job.state == IndexJob.State.DONE:
        Source.objects.filter(pk=job.source_id).update(last_synced=job.finished)
        if job.collection:
            finish_generation(job.collection)
        _announce_synced(job, runner.added)
    progress.job_progress(job)
    _start_next(job.source_id)
    return job


def _announce_synced(job: IndexJob, added: list[str]) -> None:
    """Tell the listeners (signals.source_synced) that the source's documents are current."""
    from apps.knowledge.signals import source_synced

    source = Source.objects.get(pk=job.source_id)
    for receiver, result in source_synced.send_robust(
        sender=Source, source=source, job=job, added=list(added)
    ):
        if isinstance(result, Exception):
            log.error("%s after the sync of %s failed: %r", receiver, source, result)


def create_job(source: Source, kind: str = IndexJob.Kind.SYNC, requested_by: str = "") -> IndexJob:
    """A queued job for the source, or the one already queued (no double runs).

    While a job runs, a new request queues one more, which starts when the running one ends:
    the running job listed the source already and would miss what changed since (files
    uploaded meanwhile). Requests made meanwhile share that queued job."""
    with transaction.atomic():
        Source.objects.select_for_update().get(pk=source.pk)
        stale = timezone.now() - stale_after()
        IndexJob.objects.filter(
            source=source, state=IndexJob.State.RUNNING, heartbeat__lt=stale
        ).update(
            state=IndexJob.State.FAILED,
            message="interrupted (the process running it stopped)",
            finished=timezone.now(),
        )
        queued = IndexJob.objects.filter(source=source, state=IndexJob.State.QUEUED).first()
        if queued:
            if kind == IndexJob.Kind.REBUILD and queued.kind != kind:
                queued.kind = kind
                queued.save(update_fields=["kind"])
            return queued
        return IndexJob.objects.create(source=source, kind=kind, requested_by=requested_by)
