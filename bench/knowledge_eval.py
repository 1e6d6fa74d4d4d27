"""Retrieval quality on the corpus: hit@5 and MRR for dense only, sparse only and hybrid,
Russian and English questions scored separately.

    .venv/bin/python bench/knowledge_eval.py [--workdir DIR] [--corpus ../shared/corpus]
        [--questions bench/eval/corpus_questions.jsonl] [-k 5]

Indexes the corpus (where it lies, nothing is copied) into a throwaway SQLite database and
local-mode Qdrant under DIR (a temp dir by default; reusing DIR skips unchanged documents),
then asks every question three ways as an admin.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from knowledge_setup import DEFAULT_CORPUS, ROOT, ingest, setup


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--questions", default=str(ROOT / "bench/eval/corpus_questions.jsonl"))
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--misses", action="store_true", help="list the questions hybrid missed")
    args = parser.parse_args()

    work = setup(args.workdir)
    indexing = ingest(Path(args.corpus))
    from apps.knowledge import retrieval
    from apps.knowledge.management.commands.knowledge import _Everyone

    user = _Everyone()
    rows = [json.loads(x) for x in Path(args.questions).read_text().splitlines() if x.strip()]
    report: dict[str, object] = {"workdir": str(work), "indexing": indexing, "k": args.k}
    for mode in ("dense", "sparse", "hybrid"):
        per_lang: dict[str, list[float]] = {}
        latencies = []
        for row in rows:
            started = time.perf_counter()
            hits = retrieval.search(user, row["q"], args.k, mode=mode)
            latencies.append(time.perf_counter() - started)
            rank = next((n for n, h in enumerate(hits, 1) if h.path == row["doc"]), None)
            per_lang.setdefault(row.get("lang", "?"), []).append(1 / rank if rank else 0.0)
            per_lang.setdefault("all", []).append(1 / rank if rank else 0.0)
            if args.misses and mode == "hybrid" and not rank:
                print(
                    f"miss [{row.get('lang')}] {row['q']} -> {row['doc']}; got {[h.path for h in hits[:3]]}"
                )
        report[mode] = {
            lang: {
                "questions": len(rr),
                f"hit@{args.k}": round(sum(1 for r in rr if r > 0) / len(rr), 3),
                "mrr": round(sum(rr) / len(rr), 3),
            }
            for lang, rr in sorted(per_lang.items())
        }
        latencies.sort()
        report[mode]["p50_ms"] = round(1000 * latencies[len(latencies) // 2], 1)  # type: ignore[index]
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
