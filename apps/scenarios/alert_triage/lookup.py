"""The triage's reading of the knowledge base: the runbook an alert names or that search finds,
and the post-mortems that mention it.

Alerts arrive without a user, so the triage reads as a service account of its own
(`alert-triage`, never able to sign in) whose groups are ALERT_TRIAGE_GROUPS: by default it
reads only the sources every signed-in user may read. What it cites carries the source, so
pages and messages can leave out what their reader may not see.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User

from apps.knowledge.models import Document as DocumentRow
from apps.knowledge.search import answering, documents, retrieval
from apps.scenarios.alert_triage import runbook as rb
from apps.scenarios.alert_triage.payload import IncomingAlert
from apps.scenarios.alert_triage.triage import DocRef, Postmortem

READER = "alert-triage"
_RUNBOOK_HINT = re.compile(r"runbook|ранбук|playbook", re.I)
_POSTMORTEM_HINT = re.compile(
    r"post-?mortem|пост-?мортем|постмортем|incident|инцидент|\brca\b|разбор", re.I
)
_INDEX_NAMES = {"readme", "index", "_index", "home"}
MAX_POSTMORTEMS = 3
CACHE_SECONDS = 120.0  # a storm of one alert on 300 pods reads its runbook once

# Notes the page words for the reader (see templates/scenarios/alert_triage_detail.html).
NOTE_URL_NOT_FOUND = "url-not-found"
NOTE_FOUND_BY_SEARCH = "found-by-search"
NOTE_NONE = "none"


def reader() -> User:
    """The service account the triage reads as, its groups kept equal to the setting
    (checked once per CACHE_SECONDS per process: every alert of a storm needs it)."""
    wanted = sorted(set(getattr(settings, "ALERT_TRIAGE_GROUPS", [])))
    found, user = cache.get(("reader", tuple(wanted)))
    if found:
        return user
    user, created = User.objects.get_or_create(
        username=READER, defaults={"is_active": False, "first_name": "Alert triage"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if sorted(user.groups.values_list("name", flat=True)) != wanted:
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in wanted])
    return cache.put(("reader", tuple(wanted)), user)


def _is_index(path: str) -> bool:
    return path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower() in _INDEX_NAMES


def _looks_like(hint: re.Pattern[str], *texts: str) -> bool:
    return any(hint.search(t or "") for t in texts)


def _runbook_sources() -> set[str]:
    return set(getattr(settings, "ALERT_RUNBOOK_SOURCES", []))


class _Cache:
    """A small process-wide cache with expiry: lookups repeat for every alert of a storm."""

    def __init__(self) -> None:
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> tuple[bool, Any]:
        with self._lock:
            hit = self._data.get(key)
            if hit and hit[0] > time.monotonic():
                return True, hit[1]
            return False, None

    def put(self, key: Any, value: Any) -> Any:
        with self._lock:
            if len(self._data) > 2000:
                self._data.clear()
            self._data[key] = (time.monotonic() + CACHE_SECONDS, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


cache = _Cache()


class KnowledgeBase:
    """triage.Knowledge over the portal's knowledge base, reading as `user`."""

    def __init__(self, user: Any) -> None:
        self.user = user

    def load(self, row: DocumentRow) -> rb.Document | None:
        found, value = cache.get(("doc", self.user.pk, row.pk, row.version))
        if found:
            return value
        sections = documents.sections(self.user, row)
        doc = None
        if sections is not None:
            doc = rb.Document(
                title=row.title,
                path=row.path,
                link=row.link,
                source=row.source.name,
                source_id=row.source_id,
                document_id=row.external_id,
                sections=[rb.Section(s.path, s.text) for s in sections],
            )
        return cache.put(("doc", self.user.pk, row.pk, row.version), doc)

    def _search(self, query: str, k: int) -> list[retrieval.Hit]:
        found, value = cache.get(("search", self.user.pk, query, k))
        if found:
            return value
        return cache.put(("search", self.user.pk, query, k), retrieval.search(self.user, query, k))

    @staticmethod
    def _query(alert: IncomingAlert) -> str:
        """Alertname and summary without the label values it quotes: "Pod orders/api-7c9f is
        crash looping" searches as "Pod is crash looping", the same for every pod of a
        storm (one search, cached) and without names that only add noise."""
        summary = alert.summary[:300]
        for key, value in alert.labels.items():
            if key != "alertname" and len(value) >= 3:
                summary = summary.replace(value, " ")
        summary = " ".join(re.sub(r"(?<=\s)[/:,.-]+(?=\s)", " ", f" {summary} ").split())
        return " ".join(p for p in (alert.alertname, summary) if p)

    def runbook(self, alert: IncomingAlert) -> tuple[rb.Document | None, str, str]:
        note = ""
        if alert.runbook_url:
            row = documents.resolve(self.user, alert.runbook_url)
            doc = (
                self.load(DocumentRow.objects.select_related("source").get(pk=row.pk))
                if row
                else None
            )
            if doc is not None:
                return doc, "runbook_url", ""
            note = NOTE_URL_NOT_FOUND
        query = self._query(alert)
        if not query:
            return None, "", note or NOTE_NONE
        hits = self._search(query, 12)  # the same search as postmortems(): one, cached
        sources = _runbook_sources()
        candidates = [
            h
            for h in hits
            if h.source in sources or _looks_like(_RUNBOOK_HINT, h.path, h.title, h.source)
        ]
        name = alert.alertname

        def preference(hit: retrieval.Hit) -> tuple[int, int]:
            named = bool(name) and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", hit.title)
            mentioned = bool(name) and name in hit.text
            tier = 0 if named else 1 if mentioned else 2
            return tier, 1 if _is_index(hit.path) else 0

        ranked = sorted(enumerate(candidates), key=lambda p: (*preference(p[1]), p[0]))
        tried: set[tuple[int, str]] = set()
        for _n, hit in ranked:
            key = (hit.source_id, hit.document_id)
            if key in tried:
                continue
            tried.add(key)
            tier, _index = preference(hit)
            if tier == 2 and hit.relevance < answering.min_relevance(query):
                continue
            row = (
                DocumentRow.objects.select_related("source")
                .filter(source_id=hit.source_id, external_id=hit.document_id)
                .first()
            )
            doc = self.load(row) if row else None
            # An index page names every alert but says how to handle none: keep looking.
            if doc and (rb.first_steps(doc) or rb.causes(doc) or rb.mitigations(doc)):
                return doc, "search", note or NOTE_FOUND_BY_SEARCH
        return None, "", note or NOTE_NONE

    def postmortems(self, alert: IncomingAlert) -> list[Postmortem]:
        name = alert.alertname
        if not name:
            return []
        out: list[Postmortem] = []
        seen: set[tuple[int, str]] = set()
        for hit in self._search(self._query(alert), 12):
            key = (hit.source_id, hit.document_id)
            if key in seen or not _looks_like(_POSTMORTEM_HINT, hit.path, hit.title):
                continue
            if _looks_like(_RUNBOOK_HINT, hit.path) or "template" in hit.path.lower():
                continue
            # Only reports that name this alert: a report about another alert is no history.
            if not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", hit.text):
                continue
            seen.add(key)
            row = (
                DocumentRow.objects.select_related("source")
                .filter(source_id=hit.source_id, external_id=hit.document_id)
                .first()
            )
            doc = self.load(row) if row else None
            if doc is None:
                continue
            cause, cause_section = _root_cause(doc)
            out.append(
                Postmortem(
                    doc=DocRef.of(doc),
                    section=hit.section,
                    excerpt=_line_with(hit.text, name),
                    root_cause=cause,
                    root_cause_section=cause_section,
                )
            )
            if len(out) >= MAX_POSTMORTEMS:
                break
        return out


def _line_with(text: str, word: str) -> str:
    for line in text.splitlines():
        if word in line:
            return rb.strip_markdown(line.strip("| "))[:300]
    return ""


def _root_cause(doc: rb.Document) -> tuple[str, str]:
    """The first sentence of the report's root-cause section (the deepest "cause" heading)."""
    best: rb.Section | None = None
    for section in rb.tree(doc):
        if rb.kind_of(section.heading) != "causes" or not section.text.strip():
            continue
        heading = section.heading.lower()
        if "корнев" in heading or "root" in heading:
            best = section
            break
        best = best or section
    if best is None:
        return "", ""
    return rb.first_sentence(best.text, limit=300), best.label
