"""Shared set-up of the knowledge benchmarks: a throwaway portal environment (SQLite database,
local-mode Qdrant directory, var/) in a work directory, never inside the repository.

The corpus (../shared/corpus by default) is indexed from where it lies; nothing is copied.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# ../shared/corpus beside the checkout; pass --corpus where the checkout lies elsewhere.
DEFAULT_CORPUS = (ROOT.parent / "shared" / "corpus").resolve()
EXCLUDE = ["LICENSES/*", "MANIFEST.tsv"]


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """The command line every knowledge benchmark shares: its docstring as help, the work
    directory and the corpus."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    return parser


def setup(workdir: str | None, corpus: Path | None = None) -> Path:
    """Point Django at a private database and index under `workdir` (a temp dir if None);
    `corpus` is added to the directories a directory source may read."""
    if corpus is not None:
        roots = [p for p in os.environ.get("KNOWLEDGE_DIRECTORY_ROOTS", "").split(",") if p]
        os.environ["KNOWLEDGE_DIRECTORY_ROOTS"] = ",".join([*roots, str(corpus.resolve())])
    work = Path(workdir or tempfile.mkdtemp(prefix="opsdesk-kbench-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.environ["OPSDESK_VAR"] = str(work / "var")
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ["QDRANT_PATH"] = str(work / "qdrant")
    os.environ.pop("QDRANT_URL", None)
    os.environ.pop("REDIS_URL", None)  # in-memory channel layer: progress goes nowhere
    os.environ["KNOWLEDGE_JOBS_INLINE"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return work


def ingest(corpus: Path, name: str = "corpus") -> dict[str, Any]:
    from apps.knowledge import actions
    from apps.knowledge.store.embeddings import get_embedder

    get_embedder()  # load (and on first use export) the model outside the timed part
    started = time.perf_counter()
    job = actions.ingest_directory(None, corpus, name, [], exclude=EXCLUDE)
    seconds = time.perf_counter() - started
    return {
        "state": job.state,
        "documents": job.docs_total,
        "documents_indexed": job.docs_total - job.docs_skipped - len(job.errors),
        "errors": job.errors,
        "chunks": job.chunks_done,
        "seconds": round(seconds, 1),
        "chunks_per_s": round(job.chunks_done / seconds, 1) if seconds else None,
    }
