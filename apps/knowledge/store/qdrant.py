"""The Qdrant index: one client per process, one collection per embedding model behind an
alias, points with a named dense vector, a BM25-style sparse vector and the ACL payload.

Local mode (QDRANT_PATH, the default) keeps the index in a directory that only ONE process
may open: the portal opens it once (a lazy module-level client) and runs index jobs in the
same process (see tasks.dispatch). A second process - a `manage.py knowledge` command while
the portal runs, or a Celery worker - gets IndexUnavailable saying so. With QDRANT_URL every
process talks to the Qdrant server and jobs run in Celery workers.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from qdrant_client import QdrantClient
from qdrant_client import models as qm

DENSE = "dense"
SPARSE = "sparse"
PUBLIC = "__public__"  # the groups payload of a source every signed-in user may read
_NAMESPACE = uuid.UUID("7b0f5c4e-4f7a-4d52-9a43-8d0c6f0e2a11")


class IndexUnavailable(Exception):
    """Qdrant cannot be opened or reached; the message says why and what to do."""


_client: QdrantClient | None = None
_client_lock = threading.RLock()


def _open() -> QdrantClient:
    if settings.QDRANT_URL:
        return QdrantClient(
            url=settings.QDRANT_URL, api_key=settings.QDRANT_API_KEY or None, timeout=30
        )
    try:
        if getattr(settings, "QDRANT_ENGINE", "local") == "edge":
            from apps.knowledge.store.edge import EdgeStore

            return EdgeStore(settings.QDRANT_PATH)  # type: ignore[return-value]
        return QdrantClient(path=settings.QDRANT_PATH)
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise IndexUnavailable(
                f"The Qdrant directory {settings.QDRANT_PATH} is locked by another process "
                "(local mode allows one process at a time: probably the running portal). "
                "Stop it and run the command again, or set QDRANT_URL to use a Qdrant server."
            ) from None
        raise IndexUnavailable(f"Qdrant local storage cannot be opened: {exc}") from None


def client() -> QdrantClient:
    global _client
    with _client_lock:
        if _client is None:
            _client = _open()
        return _client


def close() -> None:
    """Release the local directory (tests, and commands that hand it to another process)."""
    global _client
    with _client_lock:
        if _client is not None:
            _client.close()
            _client = None


@contextmanager
def locked() -> Iterator[QdrantClient]:
    """Local mode is not thread-safe: the web thread and a job thread take turns."""
    if settings.QDRANT_URL:
        yield client()
        return
    with _client_lock:
        yield client()


def alias() -> str:
    return settings.QDRANT_COLLECTION


def collection_name(model: str, dim: int) -> str:
    digest = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"{settings.QDRANT_COLLECTION}-{digest}-{dim}"


def point_id(source_id: int, external_id: str, chunk_index: int) -> str:
    # Deterministic: re-indexing a document overwrites its points instead of adding copies.
    return str(uuid.uuid5(_NAMESPACE, f"{source_id}\x00{external_id}\x00{chunk_index}"))


def doc_key(source_id: int, external_id: str) -> str:
    return f"{source_id}:{external_id}"


def ensure_collection(name: str, dim: int) -> None:
    with locked() as qc:
        if qc.collection_exists(name):
            return
        qc.create_collection(
            name,
            vectors_config={DENSE: qm.VectorParams(size=dim, distance=qm.Distance.COSINE)},
            sparse_vectors_config={SPARSE: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
        )
        if settings.QDRANT_URL:  # payload indexes matter on a server; local mode ignores them
            for field in ("groups", "source_id", "doc"):
                qc.create_payload_index(name, field, qm.PayloadSchemaType.KEYWORD)
            qc.create_payload_index(name, "chunk_index", qm.PayloadSchemaType.INTEGER)


def alias_target() -> str | None:
    with locked() as qc:
        for item in qc.get_aliases().aliases:
            if item.alias_name == alias():
                return item.collection_name
    return None


def point_alias_to(name: str) -> None:
    ops: list[Any] = []
    if alias_target() is not None:
        ops.append(qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=alias())))
    ops.append(
        qm.CreateAliasOperation(
            create_alias=qm.CreateAlias(collection_name=name, alias_name=alias())
        )
    )
    with locked() as qc:
        qc.update_collection_aliases(change_aliases_operations=ops)


def drop_collection(name: str) -> None:
    with locked() as qc:
        if qc.collection_exists(name):
            qc.delete_collection(name)


def upsert(name: str, points: list[qm.PointStruct]) -> None:
    if points:
        with locked() as qc:
            qc.upsert(name, points=points, wait=True)


def _match(key: str, value: Any) -> qm.FieldCondition:
    return qm.FieldCondition(key=key, match=qm.MatchValue(value=value))


def delete_document_tail(name: str, key: str, keep: int) -> None:
    """Remove a document's chunks numbered `keep` and above (all of them when keep is 0)."""
    delete_document_tails(name, [(key, keep)])


def delete_document_tails(name: str, tails: list[tuple[str, int]]) -> None:
    """delete_document_tail for several documents in one operation: each (key, keep) removes
    that document's chunks numbered `keep` and above. One request, and for the embedded
    engine one flush to disk, for a whole batch of documents instead of one per document."""
    if not tails:
        return
    each: list[Any] = []
    for key, keep in tails:
        must: list[Any] = [_match("doc", key)]
        if keep:
            must.append(qm.FieldCondition(key="chunk_index", range=qm.Range(gte=keep)))
        each.append(qm.Filter(must=must))
    selector = qm.FilterSelector(filter=each[0] if len(each) == 1 else qm.Filter(should=each))
    with locked() as qc:
        if qc.collection_exists(name):
            qc.delete(name, points_selector=selector, wait=True)


def delete_source(name: str, source_id: int) -> None:
    with locked() as qc:
        if qc.collection_exists(name):
            selector = qm.FilterSelector(filter=qm.Filter(must=[_match("source_id", source_id)]))
            qc.delete(name, points_selector=selector, wait=True)


def set_source_payload(name: str, source_id: int, payload: dict[str, Any]) -> None:
    """Change the groups (or name) on every chunk of a source without re-embedding."""
    with locked() as qc:
        if qc.collection_exists(name):
            qc.set_payload(
                name,
                payload=payload,
                points=qm.Filter(must=[_match("source_id", source_id)]),
                wait=True,
            )


def source_doc_keys(name: str, source_id: int) -> set[str]:
    """Every document key that has chunks of this source in the index."""
    keys: set[str] = set()
    offset = None
    with locked() as qc:
        if not qc.collection_exists(name):
            return keys
        while True:
            points, offset = qc.scroll(
                name,
                scroll_filter=qm.Filter(must=[_match("source_id", source_id)]),
                limit=1000,
                offset=offset,
                with_payload=["doc"],
                with_vectors=False,
            )
            keys.update(str((p.payload or {}).get("doc")) for p in points)
            if offset is None:
                return keys


def chunk_texts(name: str, page: int = 500) -> Iterator[list[str]]:
    """Every chunk's heading and text, a page at a time (the lock is not held between pages)."""
    offset = None
    while True:
        with locked() as qc:
            if not qc.collection_exists(name):
                return
            points, offset = qc.scroll(
                name, limit=page, offset=offset, with_payload=["title", "section", "text"]
            )
        yield [
            " ".join(str((p.payload or {}).get(k, "")) for k in ("title", "section", "text"))
            for p in points
        ]
        if offset is None:
            return


def optimize(name: str) -> None:
    """Let an embedded Qdrant Edge build its indexes after a job's writes (no-op elsewhere)."""
    with locked() as qc:
        if hasattr(qc, "optimize") and qc.collection_exists(name):
            qc.optimize(name)


def count(name: str, flt: qm.Filter | None = None) -> int:
    with locked() as qc:
        if not qc.collection_exists(name):
            return 0
        return qc.count(name, count_filter=flt, exact=True).count


def hybrid_query(
    name: str,
    dense: list[float] | None,
    sparse: tuple[list[int], list[float]] | None,
    flt: qm.Filter | None,
    limit: int,
    candidates: int = 50,
) -> list[qm.ScoredPoint]:
    """Dense and sparse candidates fused by reciprocal rank fusion inside Qdrant. With only
    one of the two, a plain query of that kind (used by the evaluation bench)."""
    sparse_vec = (
        qm.SparseVector(indices=sparse[0], values=sparse[1]) if sparse and sparse[0] else None
    )
    with locked() as qc:
        if dense is not None and sparse_vec is not None:
            result = qc.query_points(
                name,
                prefetch=[
                    qm.Prefetch(query=dense, using=DENSE, limit=candidates, filter=flt),
                    qm.Prefetch(query=sparse_vec, using=SPARSE, limit=candidates, filter=flt),
                ],
                query=qm.FusionQuery(fusion=qm.Fusion.RRF),
                query_filter=flt,
                limit=limit,
                with_payload=True,
                with_vectors=[DENSE],
            )
        elif dense is not None or sparse_vec is not None:
            # One half only (dense-only or sparse-only search, as the benchmark compares).
            query, using = (dense, DENSE) if dense is not None else (sparse_vec, SPARSE)
            result = qc.query_points(
                name,
                query=query,
                using=using,
                query_filter=flt,
                limit=limit,
                with_payload=True,
                with_vectors=[DENSE],
            )
        else:
            return []
    return list(result.points)
