"""`manage.py knowledge ingest|search|eval`: the operators' scripting interface (stable).

  knowledge ingest PATH [--source NAME] [--groups g1,g2] [--exclude GLOB ...]
  knowledge search "QUERY" [-k 10] [--user USERNAME] [--json]
  knowledge search --batch FILE.jsonl [-k 10] [--user USERNAME]     (one JSON array per line)
  knowledge eval FILE.jsonl [-k 5] [--mode hybrid|dense|sparse] [--user USERNAME]

In local mode (QDRANT_PATH) the index directory is open to one process at a time: run these
while the portal is stopped, or point both at a Qdrant server with QDRANT_URL.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.knowledge import index, retrieval
from apps.knowledge.models import IndexJob


class _Everyone:
    """The CLI without --user: an operator on the server, who may read every source."""

    is_staff = True
    is_superuser = True
    is_active = True
    is_authenticated = True
    username = "cli"


def hit_json(hit: retrieval.Hit) -> dict[str, Any]:
    return {
        "path": hit.path,
        "title": hit.title,
        "section": hit.section,
        "text": hit.text,
        "score": round(hit.score, 6),
        "relevance": round(hit.relevance, 4),
        "source": hit.source,
        "link": hit.link,
        "version": hit.version,
        "document_id": hit.document_id,
        "language": hit.language,
    }


class Command(BaseCommand):
    help = "Index directories, search the knowledge base and evaluate retrieval."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        ingest = sub.add_parser(
            "ingest", help="index a directory tree as a directory source and wait"
        )
        ingest.add_argument("path")
        ingest.add_argument("--source", help="source name (default: the directory's name)")
        ingest.add_argument(
            "--groups",
            default="",
            help="comma-separated groups allowed to read it (default: everyone)",
        )
        ingest.add_argument(
            "--exclude",
            action="append",
            default=None,
            help="glob of relative paths to skip (repeatable)",
        )
        ingest.add_argument("--rebuild", action="store_true", help="re-index every document")

        search = sub.add_parser("search", help="search as a user (default: sees everything)")
        search.add_argument("query", nargs="?")
        search.add_argument("-k", type=int, default=10)
        search.add_argument("--user")
        search.add_argument(
            "--json", action="store_true", help="print a JSON array (the default output)"
        )
        search.add_argument(
            "--batch", help="JSON lines with a 'q' key; prints one JSON array per line"
        )
        search.add_argument("--mode", choices=["hybrid", "dense", "sparse"], default="hybrid")

        ev = sub.add_parser("eval", help="hit@k and MRR over JSON lines {'q':..., 'doc': path}")
        ev.add_argument("file")
        ev.add_argument("-k", type=int, default=5)
        ev.add_argument("--user")
        ev.add_argument("--mode", choices=["hybrid", "dense", "sparse"], default="hybrid")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, f"do_{opts['action']}")(opts)
        except index.IndexUnavailable as exc:
            raise CommandError(str(exc)) from None
        finally:
            index.close()  # release the local directory now, not in a noisy interpreter exit

    def _user(self, username: str | None) -> Any:
        if not username:
            return _Everyone()
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        return user

    def do_ingest(self, opts: dict[str, Any]) -> None:
        from apps.knowledge import actions

        path = Path(opts["path"])
        if not path.is_dir():
            raise CommandError(f"{path} is not a directory")
        name = opts["source"] or path.resolve().name
        groups = [g.strip() for g in opts["groups"].split(",") if g.strip()]
        job = actions.ingest_directory(None, path, name, groups, exclude=opts["exclude"])
        if opts["rebuild"]:
            job = actions.start_job(None, job.source, IndexJob.Kind.REBUILD, wait=True)
            job.refresh_from_db()
        for err in job.errors:
            self.stderr.write(f"  {err['path']}: {err['error']}")
        summary = (
            f"{name}: {job.state}; {job.docs_total} documents ({job.docs_skipped} unchanged, "
            f"{job.docs_removed} removed, {len(job.errors)} with errors), {job.chunks_done} chunks "
            f"indexed at {job.throughput:.1f} chunks/s"
        )
        if job.state != IndexJob.State.DONE:
            raise CommandError(f"{summary}. {job.message}")
        self.stdout.write(summary)

    def do_search(self, opts: dict[str, Any]) -> None:
        user = self._user(opts["user"])
        if opts["batch"]:
            for line in Path(opts["batch"]).read_text().splitlines():
                if not line.strip():
                    continue
                query = json.loads(line)["q"]
                hits = retrieval.search(user, query, opts["k"], mode=opts["mode"])
                self.stdout.write(json.dumps([hit_json(h) for h in hits], ensure_ascii=False))
            return
        if not opts["query"]:
            raise CommandError("give a QUERY or --batch FILE")
        hits = retrieval.search(user, opts["query"], opts["k"], mode=opts["mode"])
        self.stdout.write(json.dumps([hit_json(h) for h in hits], ensure_ascii=False, indent=1))

    def do_eval(self, opts: dict[str, Any]) -> None:
        user = self._user(opts["user"])
        k = opts["k"]
        rows = [json.loads(x) for x in Path(opts["file"]).read_text().splitlines() if x.strip()]
        if not rows:
            raise CommandError("the file has no questions")
        hits_at_k = 0
        rr = 0.0
        for row in rows:
            hits = retrieval.search(user, row["q"], k, mode=opts["mode"])
            rank = next((n for n, h in enumerate(hits, start=1) if h.path == row["doc"]), None)
            if rank:
                hits_at_k += 1
                rr += 1 / rank
            elif opts["verbosity"] > 1:
                self.stderr.write(f"miss: {row['q']} -> {row['doc']}")
        result = {
            "questions": len(rows),
            f"hit@{k}": round(hits_at_k / len(rows), 4),
            "mrr": round(rr / len(rows), 4),
            "mode": opts["mode"],
        }
        self.stdout.write(json.dumps(result))
        sys.stdout.flush()
