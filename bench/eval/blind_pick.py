"""Pick the documents of the blind set: a seeded random sample of the corpus, printed with
each document's section headings as the indexer parses them.

    .venv/bin/python bench/eval/blind_pick.py ../shared/corpus [--seed 20261205] [-n 70]

The sample is drawn from MANIFEST.tsv's `local_path` column (sorted), so the same seed on the
same corpus always picks the same documents.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus")
    parser.add_argument("--seed", type=int, default=20261205)
    parser.add_argument("-n", type=int, default=70)
    parser.add_argument("--headings", action="store_true", help="print each pick's sections")
    args = parser.parse_args()
    corpus = Path(args.corpus)
    with (corpus / "MANIFEST.tsv").open(newline="") as fh:
        paths = sorted(row["local_path"] for row in csv.DictReader(fh, delimiter="\t"))
    picks = random.Random(args.seed).sample(paths, args.n)
    for n, path in enumerate(picks, 1):
        print(f"{n:3d} {path}")
        if args.headings:
            from apps.knowledge.ingest.parsing import ParseError, parse

            try:
                parsed = parse((corpus / path).read_bytes(), Path(path).name)
            except ParseError as exc:
                print(f"      (not indexed: {exc})")
                continue
            seen: list[str] = []
            for block in parsed.blocks:
                name = " > ".join(block.section)
                if name and name not in seen:
                    seen.append(name)
            for name in seen:
                print(f"      - {name}")


if __name__ == "__main__":
    main()
