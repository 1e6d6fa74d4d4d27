"""How near a Russian question word and an English word of the knowledge base are in the
multilingual encoder's space when they are unrelated, and when one translates the other: the
ground for crosslingual.CONFIRM, the nearness a word of the model's translation needs to be
searched for (docs/benchmarks.md, "Translated words the question vouches for").

    .venv/bin/python bench/word_pairs.py [--workdir DIR] [--corpus ../shared/corpus]
        [--questions bench/eval/corpus_questions.jsonl]

Indexes the corpus as knowledge_eval.py does (reusing DIR skips unchanged documents), then
pairs every Russian word of the set's Russian questions with 3,000 English words of the
index drawn at random (seeded): nearly all such pairs are unrelated, so their cosines show
how near chance brings two words. Each Russian word's best match over the whole vocabulary
shows how near a translation usually is.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from knowledge_setup import ROOT, arguments, ingest, setup


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--questions", default=str(ROOT / "bench/eval/corpus_questions.jsonl"))
    args = parser.parse_args()

    setup(args.workdir, Path(args.corpus))
    ingest(Path(args.corpus))
    from apps.knowledge.search import crosslingual

    vocabulary = crosslingual._vocabulary.get()
    lines = Path(args.questions).read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line) for line in lines if line.strip()]
    russian = sorted(
        {w for q in questions if q["lang"] == "ru" for w in crosslingual._russian_words(q["q"])}
    )
    vectors = crosslingual._vectors(vocabulary, russian)
    drawn = np.random.default_rng(0).choice(len(vocabulary.words), 3000, replace=False)
    chance = (vectors @ vocabulary.matrix[drawn].T).ravel()
    best = (vectors @ vocabulary.matrix.T).max(axis=1)
    percentiles = (50, 90, 99, 99.9)
    report = {
        "russian_words": len(russian),
        "english_words": len(vocabulary.words),
        "unrelated_pairs": dict(
            zip(
                map(str, percentiles),
                np.percentile(chance, percentiles).round(3).tolist(),
                strict=True,
            )
        ),
        "best_match": dict(
            zip(
                ("10", "50", "90"), np.percentile(best, (10, 50, 90)).round(3).tolist(), strict=True
            )
        ),
        "confirm": crosslingual.CONFIRM,
        "unrelated_pairs_at_or_above_confirm": round(
            float((chance >= crosslingual.CONFIRM).mean()), 3
        ),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
