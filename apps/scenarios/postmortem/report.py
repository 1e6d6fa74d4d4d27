"""A written post-mortem read back: its sections found by their headings (Russian or English),
and the report looked up in the knowledge base by incident number, link or path with the
reader's permissions.

Headings are Markdown (`## Impact`), Confluence wiki (`h2. Impact`) or a bold line
(`**Root cause**`); the text under a heading belongs to it until the next heading of the same
or a higher level. Which section a heading is comes from its words only, so the same report
always gives the same sections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.postmortem.timeline import DUE, OWNER

KINDS = ("summary", "timeline", "impact", "root_cause", "mitigation", "action_items")
REQUIRED = ("timeline", "impact", "root_cause", "mitigation", "action_items")
# Tried in this order: "Действия (action items)" is action items, not what was done.
HEADINGS: dict[str, re.Pattern[str]] = {
    "action_items": re.compile(
        r"\baction items?\b|^(follow[- ]?ups?|next steps|preventive (measures|actions)|"
        r"задачи|план действий|что сделать|превентивн\w* меры|доработки)\b",
        re.I,
    ),
    "summary": re.compile(
        r"^(summary|overview|tl;?dr|executive summary|кратко|резюме|сводка|"
        r"описание( инцидента)?|что случилось|что произошло)\b",
        re.I,
    ),
    "timeline": re.compile(
        r"^(timeline|chronology|sequence of events|хронология|таймлайн|ход событий|"
        r"временная шкала)\b",
        re.I,
    ),
    "impact": re.compile(
        r"^(impact|customer impact|user impact|влияние|последствия|ущерб|масштаб)\b", re.I
    ),
    "root_cause": re.compile(
        r"^(root ?causes?|causes?|contributing factors|why it happened|первопричин\w*|"
        r"коренн\w* причин\w*|причин\w*)\b",
        re.I,
    ),
    "mitigation": re.compile(
        r"^(mitigation|resolution|remediation|recovery|response|what we did|устранение|"
        r"восстановлени\w*|меры|действия|что сделали|реакция)\b",
        re.I,
    ),
}
_MD = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_WIKI = re.compile(r"^h([1-6])\.\s+(.+)$")
_BOLD = re.compile(r"^\*\*(.+?)\*\*:?\s*$")
_NUMBERED = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[IVX]+\.)\s+")
INCIDENT = re.compile(r"^#?\s*(?:INC-?)?(\d[\d-]{2,15})$", re.I)


@dataclass
class Section:
    kind: str
    title: str
    line: int
    text: str = ""
    items: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "line": self.line,
            "text": self.text,
            "items": self.items,
        }


def _heading(line: str) -> tuple[int, str] | None:
    for pattern in (_MD, _WIKI):
        m = pattern.match(line)
        if m:
            level = len(m.group(1)) if pattern is _MD else int(m.group(1))
            return level, m.group(2).strip()
    m = _BOLD.match(line.strip())
    if m:
        return 7, m.group(1).strip()
    return None


def kind_of(title: str) -> str:
    words = _NUMBERED.sub("", title.strip().strip("*_:").strip())
    for kind, pattern in HEADINGS.items():
        if pattern.search(words):
            return kind
    return ""


def sections(text: str) -> tuple[str, list[Section]]:
    """The report's title (its first top heading) and its known sections in order."""
    title = ""
    found: list[Section] = []
    current: Section | None = None
    level_of_current = 0
    body: list[str] = []

    def close() -> None:
        if current is not None:
            current.text = "\n".join(body).strip()
            if current.kind == "action_items":
                current.items = action_items(current.text)
            found.append(current)

    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        # A "# comment" in a shell block is not a heading.
        head = None if fenced or line.lstrip().startswith(("```", "~~~")) else _heading(line)
        if head is not None:
            level, words = head
            kind = kind_of(words)
            if not title and level == 1:
                title = words
                continue
            if (
                kind
                and all(s.kind != kind for s in found)
                and (current is None or current.kind != kind)
            ):
                close()
                current, level_of_current, body = Section(kind, words, number), level, []
                continue
            if current is not None and level <= level_of_current:
                close()
                current, body = None, []
                continue
        if current is not None:
            body.append(line)
    close()
    return title, found


def action_items(text: str) -> list[dict[str, str]]:
    items = []
    for line in text.splitlines():
        m = re.match(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s*)?(.+)$", line)
        if not m and line.strip().startswith("|") and not re.match(r"^\|\s*:?-{3}", line):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells and cells[0].lower() not in ("action", "задача", "что", "task", "#"):
                m = re.match(r"(.+)", " | ".join(c for c in cells if c))
        if not m:
            continue
        body = m.group(1).strip()
        owner = OWNER.search(body)
        due = DUE.search(body) or re.search(
            r"\b(\d{4}-\d{2}-\d{2}|\d{1,2}\.\d{1,2}\.\d{4})\b", body
        )
        items.append(
            {
                "text": body,
                "owner": (owner.group(1) or owner.group(2)).strip() if owner else "",
                "due": due.group(1) if due else "",
                "done": "yes" if re.match(r"^\s*(?:[-*+]|\d+[.)])\s+\[[xX]\]", line) else "",
            }
        )
    return items


# --- the knowledge base ---------------------------------------------------------------------


def not_found(reference: str) -> InputError:
    return InputError(
        _("no post-mortem %(ref)s in the sources you may read") % {"ref": reference},
        field="report",
    )


def find(user: Any, reference: str) -> tuple[str, Any]:
    """The report's Markdown, rebuilt from the index under its headings, and its Document.
    `reference`: an incident number ("#12345", "INC-12345"), a link or a path."""
    from apps.knowledge.models import Document
    from apps.knowledge.search import documents
    from apps.knowledge.search.retrieval import readable_source_ids, search

    reference = reference.strip()
    readable = readable_source_ids(user)
    m = INCIDENT.match(reference)
    doc = None
    if m:
        number = m.group(1)
        shown = f"#{number}"
        named = Document.objects.filter(source_id__in=readable, chunk_count__gt=0).filter(
            Q(title__iregex=rf"(^|[^0-9]){number}([^0-9]|$)")
            | Q(path__iregex=rf"(^|[^0-9]){number}([^0-9]|$)")
        )
        doc = named.order_by("-indexed_at").first()
        if doc is None:
            for hit in search(user, f"{number} post-mortem постмортем инцидент", k=8):
                if re.search(rf"(^|[^0-9]){number}([^0-9]|$)", hit.text + hit.title):
                    doc = Document.objects.filter(
                        source_id=hit.source_id, external_id=hit.document_id
                    ).first()
                    break
    else:
        shown = reference
        doc = documents.resolve(user, reference)
    if doc is None or doc.source_id not in readable:
        raise not_found(shown)
    parts = documents.sections(user, doc) or []
    lines = [f"# {doc.title}"] if doc.title else []
    seen: tuple[str, ...] = ()
    for part in parts:
        for i, heading in enumerate(part.path):
            if seen[: i + 1] != part.path[: i + 1]:
                lines.append(f"{'#' * (i + 2)} {heading}")
        seen = part.path
        lines.append(part.text)
    text = "\n\n".join(lines)
    if not text.strip():
        raise not_found(shown)
    return text, doc
