"""`manage.py knowledge ingest|search|eval`: the operators' scripting interface (stable).

  knowledge ingest PATH [--source NAME] [--groups g1,g2] [--exclude GLOB ...]
  knowledge search "QUERY" [-k 10] [--user USERNAME] [--json]
  knowledge search --batch FILE.jsonl [-k 10] [--user USERNAME]     (one JSON array per line)
  knowledge eval FILE.jsonl [-k 5] [--mode hybrid|dense|sparse] [--user USERNAME] [-v 2]
      (all three modes by default; -v 2 lists the misses)

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

from apps.knowledge.models import IndexJob
from apps.knowledge.search import retrieval
from apps.knowledge.store import qdrant


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

        ev = sub.add_parser(
            "eval",
            help="hit@1, hit@k, MRR (dense, sparse, hybrid; by language) and the relevance "
            "gate over JSON lines {'q':..., 'doc': path or null, 'section':..., 'lang':...}",
        )
        ev.add_argument("file")
        ev.add_argument("-k", type=int, default=5)
        ev.add_argument("--user")
        ev.add_argument(
            "--mode", choices=["hybrid", "dense", "sparse"], help="one mode (default: all three)"
        )

        sub.add_parser(
            "words",
            help="learn the English words of the chunks already indexed, for Russian "
            "questions (index jobs learn them as they go; run once on an older index)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, f"do_{opts['action']}")(opts)
        except qdrant.IndexUnavailable as exc:
            raise CommandError(str(exc)) from None
        finally:
            qdrant.close()  # release the local directory now, not in a noisy interpreter exit

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
        from apps.knowledge.search import evaluation

        user = self._user(opts["user"])
        try:
            questions = evaluation.load(Path(opts["file"]))
        except (OSError, evaluation.BadQuestionSet) as exc:
            raise CommandError(f"{opts['file']}: {exc}") from None

        def miss(mode: str, q: evaluation.Question, hits: list[retrieval.Hit]) -> None:
            if opts["verbosity"] > 1:
                got = [h.path for h in hits[:3]]
                self.stderr.write(f"miss [{mode}, {q.lang}] {q.q} -> {q.doc}; got {got}")

        modes = [opts["mode"]] if opts["mode"] else list(evaluation.MODES)
        report = evaluation.evaluate(user, questions, k=opts["k"], modes=modes, on_miss=miss)
        self.stdout.write(json.dumps(report, ensure_ascii=False, indent=1))
        sys.stdout.flush()

    def do_words(self, opts: dict[str, Any]) -> None:
        from apps.knowledge.search import crosslingual

        if not crosslingual.enabled():
            raise CommandError("KNOWLEDGE_CROSSLINGUAL is off")
        chunks = new = 0
        for texts in qdrant.chunk_texts(qdrant.alias()):
            chunks += len(texts)
            new += crosslingual.learn(texts)
        self.stdout.write(f"{chunks} chunks read, {new} new English words learned")
