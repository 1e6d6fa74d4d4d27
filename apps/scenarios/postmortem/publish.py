"""Publishing a post-mortem: a Markdown file in the knowledge base, readable by the groups
the author chose, indexed before the call returns so it is found by search at once.

One upload source per set of groups ("Post-mortems", "Post-mortems (dba, sre)"), tagged
"postmortems": a knowledge source carries the permissions of its documents, so reports
with different readers live in different sources.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.knowledge import actions as knowledge
from apps.knowledge.ingest.connectors.directory import upload_dir
from apps.knowledge.models import IndexJob, Source
from apps.scenarios.engine.base import InputError
from apps.scenarios.postmortem.models import PublishedPostmortem

TAG = "postmortems"
MAX_BODY = 1024 * 1024


def source_for(actor: Any, groups: list[str]) -> Source:
    groups = sorted(dict.fromkeys(g.strip() for g in groups if g.strip()))
    name = "Post-mortems" + (f" ({', '.join(groups)})" if groups else "")
    source = Source.objects.filter(name=name, type=Source.Type.UPLOAD).first()
    if source is None:
        source = knowledge.save_source(
            actor,
            name=name[:200],
            type=Source.Type.UPLOAD,
            settings={},
            groups=groups,
            tags=[TAG],
        )
    return source


def file_name(title: str, incident: str) -> str:
    stem = slugify(f"{incident} {title}", allow_unicode=True)[:80].strip("-") or "postmortem"
    return f"{timezone.now():%Y-%m-%d}-{stem}.md"


def publish(
    actor: Any,
    *,
    title: str,
    body: str,
    groups: list[str],
    incident: str = "",
    run: Any = None,
) -> PublishedPostmortem:
    """Write the report, index it (waiting), and record it; with Confluence configured,
    write its copy there too (a failure there is kept on the row, never raised). Published
    again from the same run, the earlier row, file and Confluence page are updated (the file
    moves when the readers changed). Raises InputError for a report that is empty or too
    large."""
    if not body.strip():
        raise InputError("the post-mortem is empty", field="body")
    if len(body.encode()) > MAX_BODY:
        raise InputError("the post-mortem is larger than 1 MB", field="body")
    source = source_for(actor, groups)
    earlier = PublishedPostmortem.objects.filter(run=run).first() if run is not None else None
    moved_from = None
    if earlier is not None and earlier.source_id == source.pk:
        name = earlier.path
    else:
        name = file_name(title, incident)
        if earlier is not None and earlier.source is not None:
            moved_from = earlier.source
            (upload_dir(moved_from.pk) / earlier.path).unlink(missing_ok=True)
    folder = upload_dir(source.pk)
    folder.mkdir(parents=True, exist_ok=True)
    # A heading the report may lack: the title is what search shows.
    text = body if re.match(r"^\s*# ", body) else f"# {title}\n\n{body}"
    (folder / name).write_text(text, encoding="utf-8")
    with transaction.atomic():
        row = earlier or PublishedPostmortem(
            author=actor if getattr(actor, "is_authenticated", False) else None, run=run
        )
        row.title = title[:300]
        row.incident = incident[:100]
        row.body = text
        row.source = source
        row.path = name
        row.groups = source.group_names()
        row.indexed = None
        row.save()
    if moved_from is not None:
        knowledge.start_job(actor, moved_from, wait=True)
    job = knowledge.start_job(actor, source, wait=True)
    job.refresh_from_db()
    if job.state == IndexJob.State.DONE:
        row.indexed = timezone.now()
        row.save(update_fields=["indexed"])
    from apps.scenarios.postmortem import confluence

    if confluence.configured():
        confluence.write(row)
    if run is not None:
        _remember(run, row)
    return row


def _remember(run: Any, row: PublishedPostmortem) -> None:
    """The run keeps where its post-mortem went (shown on the run's page)."""
    run.facts = dict(run.facts or {}) | {
        "published": {
            "id": row.pk,
            "path": row.path,
            "confluence_link": row.confluence_link,
            "confluence_error": row.confluence_error,
        }
    }
    run.save(update_fields=["facts"])
