"""Indexing throughput for the whole corpus, and search latency at 10k and 100k chunks.

    .venv/bin/python bench/knowledge_index.py [--workdir DIR] [--corpus ../shared/corpus]
        [--sizes 10000,100000] [--queries 30]

1. Indexes the corpus end to end (list, read, parse, chunk, embed, write to Qdrant, record)
   into a fresh local-mode Qdrant and SQLite database under DIR (a temp dir by default):
   documents, chunks, seconds, chunks/s.
2. Grows the collection to each size by re-inserting the corpus's own chunks (vectors and
   payload copied) under new point ids, then times `retrieval.search` for the evaluation
   questions as a signed-in member of a group - the whole path: query embedding, glossary
   expansion, the permission filter and Qdrant's hybrid query - and reports p50/p95.

QDRANT_ENGINE=edge in the environment measures the embedded Qdrant Edge engine instead of
qdrant-client's local mode.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from knowledge_setup import ROOT, arguments, ingest, setup


def grow_to(target: int) -> int:
    """Copy existing points under new ids until the alias's collection holds `target`."""
    from qdrant_client import models as qm

    from apps.knowledge.store import qdrant

    name = qdrant.alias_target() or qdrant.alias()
    with qdrant.locked() as qc:
        base: list[Any] = []
        offset = None
        while True:
            points, offset = qc.scroll(
                name, limit=1000, offset=offset, with_payload=True, with_vectors=True
            )
            base.extend(p for p in points if not (p.payload or {}).get("bench_copy"))
            if offset is None:
                break
        have = qc.count(name, exact=True).count
    copy = 0
    while have < target:
        batch = []
        for p in base[: min(1000, target - have)]:
            copy += 1
            vectors = p.vector if isinstance(p.vector, dict) else {}
            batch.append(
                qm.PointStruct(
                    id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-copy-{copy}")),
                    vector=vectors,
                    payload={**(p.payload or {}), "bench_copy": copy, "doc": f"bench:{copy}"},
                )
            )
        qdrant.upsert(name, batch)
        have += len(batch)
    qdrant.optimize(name)  # an embedded Qdrant Edge builds its HNSW/sparse indexes here
    return have


def latency(questions: list[str], user: object, rounds: int) -> dict[str, float]:
    from apps.knowledge.search import retrieval

    retrieval.search(user, questions[0], 8)  # warm-up
    times = []
    for q in questions[:rounds]:
        started = time.perf_counter()
        retrieval.search(user, q, 8)
        times.append(time.perf_counter() - started)
    times.sort()
    return {
        "queries": len(times),
        "p50_ms": round(1000 * statistics.median(times), 1),
        "p95_ms": round(1000 * times[max(0, int(len(times) * 0.95) - 1)], 1),
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--questions", default=str(ROOT / "bench/eval/corpus_questions.jsonl"))
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument(
        "--skip-index", action="store_true", help="reuse the index already in --workdir"
    )
    args = parser.parse_args()

    work = setup(args.workdir, Path(args.corpus))
    report: dict[str, object] = {"workdir": str(work)}
    if not args.skip_index:
        report["indexing"] = ingest(Path(args.corpus))
        print(json.dumps(report, ensure_ascii=False), flush=True)
    from django.contrib.auth.models import Group, User

    user, _ = User.objects.get_or_create(username="bench-member")
    user.groups.add(Group.objects.get_or_create(name="sre")[0])
    questions = [
        json.loads(x)["q"] for x in Path(args.questions).read_text().splitlines() if x.strip()
    ]
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        started = time.perf_counter()
        total = grow_to(size)
        grown = time.perf_counter() - started
        result = latency(questions, user, args.queries)
        report[f"search_at_{total}"] = {**result, "seconds_to_grow_and_index": round(grown, 1)}
        print(json.dumps({f"search_at_{total}": report[f"search_at_{total}"]}), flush=True)
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
