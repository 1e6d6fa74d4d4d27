"""Post-mortem publishing: seconds from "Publish" to the report being found by search, on the
`make run` set (SQLite, embedded Qdrant, the packaged embedder, the demo knowledge base).

Each round writes a new post-mortem through the same function the page's Publish button
calls (apps/scenarios/postmortem/publish.py: the Markdown file in an upload source, then its
sync) and then searches, as a reader of the chosen group, for a sentence of its root cause
until the report is the first hit. Reported: the time to the first search that finds it,
per round (median and worst) and the part of it that was the sync.

    .venv/bin/python bench/postmortem_publish.py --rounds 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from knowledge_setup import setup  # noqa: E402

BODY = """# {title}

## Impact
Card payments failed for {minutes} minutes.

## Root cause
The {service} connection pool was sized {size} instead of 50 after the deploy.

## Action items
- [ ] Canary for {service} deploys — owner: @ivan, due 2026-03-20
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    work = setup(args.workdir)
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from apps.knowledge.search.retrieval import search
    from apps.knowledge.store.embeddings import get_embedder
    from apps.scenarios.postmortem import publish

    call_command("demo_knowledge", verbosity=0)
    get_embedder()
    author = User.objects.create_user("bench-author")
    author.groups.add(Group.objects.get_or_create(name="sre")[0])
    found, syncs = [], []
    for n in range(args.rounds):
        service = f"payments-gw{n:02d}"
        title = f"Post-mortem: {service} 502 after deploy"
        started = time.perf_counter()
        row = publish.publish(
            author,
            title=title,
            body=BODY.format(title=title, minutes=30 + n, service=service, size=5 + n),
            groups=["sre"],
            incident=f"INC-{9000 + n}",
        )
        synced = time.perf_counter()
        while True:
            hits = search(author, f"{service} connection pool sized", k=3)
            if hits and hits[0].path == row.path:
                break
            if time.perf_counter() - started > args.timeout:
                raise SystemExit(f"round {n}: not found within {args.timeout} s")
            time.sleep(0.05)
        done = time.perf_counter()
        found.append(done - started)
        syncs.append(synced - started)
        print(f"round {n}: found after {found[-1]:.2f} s (sync {syncs[-1]:.2f} s)")
    print(
        f"publish → found by search: median {statistics.median(found):.2f} s, "
        f"worst {max(found):.2f} s over {len(found)} rounds; sync median "
        f"{statistics.median(syncs):.2f} s (work dir {work})"
    )


if __name__ == "__main__":
    main()
