"""Retrieval quality on the corpus: hit@1, hit@k, MRR (and section hit@k where the set names
sections) for dense only, sparse only and hybrid, Russian and English questions scored
separately, and the relevance gate's answered/refused rates (apps.knowledge.search.evaluation).

    .venv/bin/python bench/knowledge_eval.py [--workdir DIR] [--corpus ../shared/corpus]
        [--questions bench/eval/corpus_questions.jsonl bench/eval/blind.jsonl] [-k 5]

Indexes the corpus (where it lies, nothing is copied) into a throwaway SQLite database and
local-mode Qdrant under DIR (a temp dir by default; reusing DIR skips unchanged documents),
then asks every question three ways as an admin. Russian questions are translated by the model
server LLM_BACKENDS names (apps/knowledge/search/english.py; `make run`'s dev server:
LLM_BACKENDS='[{"name":"dev","url":"http://127.0.0.1:8001/v1","model":"gemma-3-270m",
"tier":"fast","base_model":true,"development":true}]'); "translation" in the report counts
those calls, and KNOWLEDGE_TRANSLATION=0 measures without them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from knowledge_setup import ROOT, arguments, ingest, setup


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument(
        "--questions",
        nargs="+",
        default=[
            str(ROOT / "bench/eval/corpus_questions.jsonl"),
            str(ROOT / "bench/eval/blind.jsonl"),
        ],
    )
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--misses", action="store_true", help="list the questions hybrid missed")
    args = parser.parse_args()

    work = setup(args.workdir, Path(args.corpus))
    indexing = ingest(Path(args.corpus))
    from django.utils import timezone

    from apps.knowledge.management.commands.knowledge import _Everyone
    from apps.knowledge.search import evaluation, retrieval

    def miss(mode: str, q: evaluation.Question, hits: list[retrieval.Hit]) -> None:
        if args.misses and mode == "hybrid":
            print(f"miss [{q.lang}] {q.q} -> {q.doc}; got {[h.path for h in hits[:3]]}")

    asked_from = timezone.now()
    report: dict[str, object] = {"workdir": str(work), "indexing": indexing}
    for path in args.questions:
        started = time.perf_counter()
        result = evaluation.evaluate(
            _Everyone(), evaluation.load(Path(path)), k=args.k, on_miss=miss
        )
        result["seconds"] = round(time.perf_counter() - started, 1)
        report[Path(path).name] = result
    report["translation"] = translations(asked_from)
    print(json.dumps(report, ensure_ascii=False, indent=1))


def translations(since: object) -> dict[str, object]:
    """How the model's translations of Russian questions went (english.py): with no model
    server in LLM_BACKENDS every one failed and the figures are those without them."""
    from django.db.models import Count

    from apps.inference.models import LLMCall
    from apps.knowledge.search import english

    calls = LLMCall.objects.filter(purpose=english.PURPOSE, started__gte=since)
    return {
        "enabled": english.enabled(),
        "calls": dict(calls.values_list("outcome").annotate(n=Count("id"))),
    }


if __name__ == "__main__":
    main()
