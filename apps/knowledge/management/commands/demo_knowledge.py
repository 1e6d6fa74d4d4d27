"""`manage.py demo_knowledge`: index samples/knowledge as the demo sources (run by `make run`
on every start, so it returns at once when nothing changed).

Two directory sources: "Demo knowledge base" (readable by everyone) and "Demo knowledge base
(SRE only)" for its sre-only/ folder, readable only by the `sre` group. The restricted source
is created first, so the outer one never indexes that folder's files even for a moment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

DEMO = "Demo knowledge base"
DEMO_SRE = "Demo knowledge base (SRE only)"


def _up_to_date(specs: list[tuple[str, Path, list[str]]], exclude: dict[str, list[str]]) -> bool:
    """True when both sources exist, the model has not changed and no file changed."""
    from apps.knowledge.ingest.connectors.directory import DirectoryConnector
    from apps.knowledge.models import Collection, IndexJob, Source
    from apps.knowledge.store import qdrant
    from apps.knowledge.store.embeddings import model_path

    active = Collection.objects.filter(state=Collection.State.ACTIVE).first()
    if active is None or active.model != model_path():
        return False
    for name, path, groups in specs:
        source = Source.objects.filter(name=name).first()
        if source is None or Path(str(source.settings.get("path", ""))) != path.resolve():
            return False
        if source.group_names() != sorted(groups) or not source.enabled:
            return False
        if list(source.settings.get("exclude") or []) != exclude[name]:
            return False
        if not IndexJob.objects.filter(source=source, state=IndexJob.State.DONE).exists():
            return False
        listed = {r.external_id: r.version for r in DirectoryConnector(source).list_documents()}
        known = dict(source.documents.values_list("external_id", "version"))
        if listed != known:
            return False
        if qdrant.count(qdrant.alias(), None) == 0:
            return False  # the index directory was wiped under an intact database
    return True


class Command(BaseCommand):
    help = "Index the demo knowledge base (samples/knowledge) if it changed."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--path", default=str(Path(settings.BASE_DIR) / "samples" / "knowledge")
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        from apps.knowledge import actions
        from apps.knowledge.models import IndexJob
        from apps.knowledge.store import qdrant

        root = Path(opts["path"])
        if not root.is_dir() or not any(root.iterdir()):
            self.stdout.write(f"No demo knowledge base at {root}: nothing to index.")
            return
        specs = [(DEMO_SRE, root / "sre-only", ["sre"]), (DEMO, root, [])]
        # The top-level README describes the demo itself (layout, test phrases), not the
        # fictional company: it is not part of the knowledge base.
        exclude = {DEMO: ["README.md"], DEMO_SRE: []}
        specs = [s for s in specs if s[1].is_dir()]
        try:
            if _up_to_date(specs, exclude):
                self.stdout.write("Demo knowledge base: already indexed.")
                return
            for name, path, groups in specs:
                job = actions.ingest_directory(None, path, name, groups, exclude=exclude[name])
                self.stdout.write(
                    f"{name}: {job.state}, {job.docs_total} documents, {job.chunks_done} chunks "
                    f"indexed, {len(job.errors)} errors"
                )
                if job.state != IndexJob.State.DONE:
                    raise CommandError(f"{name}: {job.message}")
        except qdrant.IndexUnavailable as exc:
            raise CommandError(str(exc)) from None
        finally:
            qdrant.close()
