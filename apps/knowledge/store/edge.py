"""Qdrant Edge as the embedded engine: the Qdrant (Rust) engine in-process, one shard per
collection under QDRANT_PATH/edge/, aliases in a small JSON file beside them.

qdrant-client's local mode is pure Python and scans every point for every query (seconds at
100k chunks, see docs/benchmarks.md); Qdrant Edge has the server's HNSW and sparse indexes.
This adapter offers the few QdrantClient methods index.py uses, taking and returning
qdrant-client's model types, so the rest of the app does not know which engine runs.
Selected by QDRANT_ENGINE=edge; like local mode, one process owns the directory.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import qdrant_edge as qe
from qdrant_client import models as qm

RRF_K = 2  # qdrant-client's and Qdrant's default ranking constant, for identical ranking


def _condition(c: Any) -> Any:
    if isinstance(c, qm.Filter):
        return _filter(c)
    if not isinstance(c, qm.FieldCondition):
        raise TypeError(f"unsupported filter condition {type(c).__name__}")
    if isinstance(c.match, qm.MatchValue):
        return qe.FieldCondition(key=c.key, match=qe.MatchValue(c.match.value))
    if isinstance(c.match, qm.MatchAny):
        values: Any = list(c.match.any)
        return qe.FieldCondition(key=c.key, match=qe.MatchAny(values))
    if isinstance(c.range, qm.Range):
        r = c.range
        return qe.FieldCondition(
            key=c.key, range=qe.RangeFloat(gte=r.gte, gt=r.gt, lte=r.lte, lt=r.lt)
        )
    raise TypeError(f"unsupported condition on {c.key}")


def _filter(f: qm.Filter | None) -> Any:
    if f is None:
        return None
    must, should, must_not = (
        [_condition(c) for c in (getattr(f, name) or [])] for name in ("must", "should", "must_not")
    )
    return qe.Filter(must=must or None, should=should or None, must_not=must_not or None)


def _vector(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _vector(x) for k, x in v.items()}
    if hasattr(v, "indices") and hasattr(v, "values"):
        return qe.SparseVector(indices=list(v.indices), values=list(v.values))
    return list(v)


def _out_vector(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _out_vector(x) for k, x in v.items()}
    if hasattr(v, "indices") and hasattr(v, "values"):
        return qm.SparseVector(indices=list(v.indices), values=list(v.values))
    return v


def _scored(p: Any) -> qm.ScoredPoint:
    return qm.ScoredPoint(
        id=p.id, version=0, score=float(p.score), payload=p.payload, vector=_out_vector(p.vector)
    )


def _with_vector(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else bool(value)


def _selector_filter(selector: Any) -> Any:
    if isinstance(selector, qm.FilterSelector):
        return _filter(selector.filter)
    if isinstance(selector, qm.Filter):
        return _filter(selector)
    raise TypeError("only filter selectors are supported")


class EdgeStore:
    """The subset of QdrantClient used by apps.knowledge.store.qdrant, on Qdrant Edge shards."""

    def __init__(self, path: str):
        self.root = Path(path)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.root / "edge.lock", "w")  # noqa: SIM115 (held for the process's life)
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise RuntimeError(
                f"Storage folder {path} is already accessed by another instance"
            ) from None
        self.shards: dict[str, Any] = {}
        self.mutex = threading.RLock()

    # --- collections and aliases ---------------------------------------------------------
    def _dir(self, name: str) -> Path:
        return self.root / "edge" / name

    def _aliases(self) -> dict[str, str]:
        path = self.root / "edge-aliases.json"
        return dict(json.loads(path.read_text())) if path.exists() else {}

    def _resolve(self, name: str) -> str:
        return self._aliases().get(name, name)

    def _shard(self, name: str) -> Any:
        name = self._resolve(name)
        if name not in self.shards:
            if not self._dir(name).is_dir():
                raise ValueError(f"Collection {name} not found")
            self.shards[name] = qe.EdgeShard.load(str(self._dir(name)))
        return self.shards[name]

    def collection_exists(self, name: str) -> bool:
        return self._dir(self._resolve(name)).is_dir()

    def get_collections(self) -> Any:
        folder = self.root / "edge"
        names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        return SimpleNamespace(collections=[SimpleNamespace(name=n) for n in names])

    def create_collection(self, name: str, vectors_config: Any, sparse_vectors_config: Any) -> None:
        dense = {
            key: qe.EdgeVectorParams(size=params.size, distance=qe.Distance.Cosine)
            for key, params in vectors_config.items()
        }
        sparse = {
            key: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)
            for key in sparse_vectors_config
        }
        self._dir(name).parent.mkdir(parents=True, exist_ok=True)
        shard = qe.EdgeShard.create(
            str(self._dir(name)), qe.EdgeConfig(vectors=dense, sparse_vectors=sparse)
        )
        for field, schema in (
            ("groups", qe.PayloadSchemaType.Keyword),
            ("doc", qe.PayloadSchemaType.Keyword),
            ("source_id", qe.PayloadSchemaType.Integer),
            ("chunk_index", qe.PayloadSchemaType.Integer),
        ):
            shard.update(qe.UpdateOperation.create_field_index(field, schema))
        self.shards[name] = shard

    def create_payload_index(self, *args: Any, **kwargs: Any) -> None:
        pass  # created with the collection

    def delete_collection(self, name: str) -> None:
        shard = self.shards.pop(name, None)
        if shard is not None:
            shard.close()
        shutil.rmtree(self._dir(name), ignore_errors=True)

    def get_aliases(self) -> Any:
        items = [
            SimpleNamespace(alias_name=a, collection_name=c) for a, c in self._aliases().items()
        ]
        return SimpleNamespace(aliases=items)

    def update_collection_aliases(self, change_aliases_operations: list[Any]) -> None:
        aliases = self._aliases()
        for op in change_aliases_operations:
            if isinstance(op, qm.DeleteAliasOperation):
                aliases.pop(op.delete_alias.alias_name, None)
            elif isinstance(op, qm.CreateAliasOperation):
                aliases[op.create_alias.alias_name] = op.create_alias.collection_name
        tmp = self.root / "edge-aliases.json.tmp"
        tmp.write_text(json.dumps(aliases))
        tmp.replace(self.root / "edge-aliases.json")  # atomic: never a half-written alias file

    # --- points ------------------------------------------------------------------------------
    def upsert(self, name: str, points: list[qm.PointStruct], wait: bool = True) -> None:
        edge_points = [
            qe.Point(id=p.id, vector=_vector(p.vector), payload=p.payload) for p in points
        ]
        shard = self._shard(name)
        shard.update(qe.UpdateOperation.upsert_points(edge_points))
        shard.flush()

    def delete(self, name: str, points_selector: Any, wait: bool = True) -> None:
        shard = self._shard(name)
        shard.update(qe.UpdateOperation.delete_points_by_filter(_selector_filter(points_selector)))
        shard.flush()

    def set_payload(
        self, name: str, payload: dict[str, Any], points: Any, wait: bool = True
    ) -> None:
        shard = self._shard(name)
        shard.update(qe.UpdateOperation.set_payload_by_filter(_selector_filter(points), payload))
        shard.flush()

    def scroll(
        self,
        name: str,
        scroll_filter: Any = None,
        limit: int = 10,
        offset: Any = None,
        with_payload: Any = True,
        with_vectors: Any = False,
    ) -> tuple[list[Any], Any]:
        records, next_offset = self._shard(name).scroll(
            qe.ScrollRequest(
                offset=offset,
                limit=limit,
                filter=_filter(scroll_filter),
                with_payload=with_payload,
                with_vector=_with_vector(with_vectors),
            )
        )
        out = [
            SimpleNamespace(id=r.id, payload=r.payload, vector=_out_vector(r.vector))
            for r in records
        ]
        return out, next_offset

    def count(self, name: str, count_filter: Any = None, exact: bool = True) -> Any:
        value = self._shard(name).count(qe.CountRequest(exact=exact, filter=_filter(count_filter)))
        return SimpleNamespace(count=int(value))

    def query_points(
        self,
        name: str,
        query: Any = None,
        using: str | None = None,
        prefetch: list[Any] | None = None,
        query_filter: Any = None,
        limit: int = 10,
        with_payload: Any = True,
        with_vectors: Any = False,
    ) -> Any:
        def nearest(vector: Any, vector_name: str | None) -> Any:
            return qe.Query.Nearest(_vector(vector), using=vector_name)

        prefetches = [
            qe.Prefetch(limit=p.limit, query=nearest(p.query, p.using), filter=_filter(p.filter))
            for p in prefetch or []
        ]
        if isinstance(query, qm.FusionQuery):
            scoring: Any = qe.Fusion.Rrf(k=RRF_K)
        else:
            scoring = nearest(query, using)
        request = qe.QueryRequest(
            limit=limit,
            query=scoring,
            prefetches=prefetches or None,
            filter=_filter(query_filter),
            with_payload=with_payload,
            with_vector=_with_vector(with_vectors),
        )
        points = self._shard(name).query(request)
        return SimpleNamespace(points=[_scored(p) for p in points])

    def optimize(self, name: str) -> None:
        """Build the HNSW and sparse indexes of new segments (blocking)."""
        self._shard(name).optimize()

    def close(self) -> None:
        for shard in self.shards.values():
            shard.close()
        self.shards.clear()
        if not self._lock_file.closed:
            self._lock_file.close()
