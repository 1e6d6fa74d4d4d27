"""Past incidents and post-mortems that mention a service, read from the knowledge base with
the permissions of the person looking at the run (its owner, or a colleague on a share link):
each sees only what they may read, so the list is looked up when the page is shown, never
stored with the run.

The search is the grounded-answer service's own (knowledge.answering.ground) with the
service's name as an exact term; what it returns is kept when it names the service and
reads like an incident write-up (its path, title or heading says post-mortem, incident, RCA,
outage, разбор, инцидент…).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from apps.knowledge.search import answering

log = logging.getLogger(__name__)

MAX_SHOWN = 5
_INCIDENT = re.compile(
    r"post-?mortem|incident|outage|\brca\b|root cause|пост-?мортем|постмортем|инцидент|авари|разбор|сбой",
    re.I,
)


@dataclass(frozen=True)
class Incident:
    title: str
    section: str
    link: str
    source: str
    excerpt: str


def _excerpt(text: str, pattern: re.Pattern[str], width: int = 220) -> str:
    found = pattern.search(text)
    start = max(0, (found.start() if found else 0) - width // 2)
    piece = " ".join(text[start : start + width].split())
    return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")


def for_service(user: Any, names: list[str]) -> tuple[list[Incident], bool]:
    """(incidents, whether the knowledge base could be searched)."""
    wanted = [n for n in dict.fromkeys(names) if n]
    if not wanted or user is None or not user.is_authenticated:
        return [], True
    mention = re.compile("|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in wanted), re.I)
    question = f"{wanted[0]} incident post-mortem outage root cause"
    try:
        grounding = answering.ground(user, question, scope=answering.Scope(terms=tuple(wanted)))
    except Exception:  # the index down or a search error: the page says so, nothing more
        log.warning("change-impact: past incidents not searched", exc_info=True)
        return [], False
    out: list[Incident] = []
    seen: set[tuple[int, str]] = set()
    for hit in grounding.hits:
        key = (hit.source_id, hit.document_id)
        if key in seen:
            continue
        if not any(mention.search(x) for x in (hit.text, hit.title, hit.section)):
            continue
        if not any(_INCIDENT.search(x or "") for x in (hit.path, hit.title, hit.section)):
            continue
        seen.add(key)
        out.append(
            Incident(
                title=hit.title or hit.path,
                section=hit.section,
                link=hit.link,
                source=hit.source,
                excerpt=_excerpt(hit.text, mention),
            )
        )
        if len(out) >= MAX_SHOWN:
            break
    return out, True
