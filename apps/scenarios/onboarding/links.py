"""Checking a track's links when its source syncs.

A link to a document of the knowledge base (a path, relative to the track file or to its
source's root) is fine when the document is indexed; a URL is fine when a GET through the
portal's guarded fetcher (knowledge.connectors.netguard: no internal addresses unless an
admin allowed their network, checked at connection time, redirects included) answers below
400. Broken links are shown to admins in the console and marked on the track's page.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from django.utils.translation import gettext_noop

from apps.knowledge.ingest.connectors import netguard
from apps.knowledge.models import Document, Source

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# A sync checks at most this many URLs; the rest are marked not checked.
MAX_URLS = 200


@dataclass
class Target:
    """What a link points at in the knowledge base."""

    source_id: int
    external_id: str
    path: str
    title: str
    link: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "external_id": self.external_id,
            "path": self.path,
            "title": self.title,
            "link": self.link,
        }


def candidates(target: str, track_path: str) -> list[str]:
    """The document paths a relative link may mean: beside the track file, then from the
    source's root."""
    clean = unquote(target.split("#", 1)[0].split("?", 1)[0]).strip()
    if not clean:
        return []
    if clean.startswith("/"):
        return [posixpath.normpath(clean.lstrip("/"))]
    out = []
    here = posixpath.dirname(track_path)
    if here:
        beside = posixpath.normpath(posixpath.join(here, clean))
        if not beside.startswith("../"):
            out.append(beside)
    root = posixpath.normpath(clean)
    if not root.startswith("../") and root not in out:
        out.append(root)
    return out


def find_document(target: str, source_id: int, track_path: str) -> Target | None:
    """The indexed document a link names: an internal path (the track's own source first),
    or a URL that a web or Confluence source indexed."""
    docs = Document.objects.filter(source__enabled=True, error="", chunk_count__gt=0)
    if target.lower().startswith(("http://", "https://")):
        found = docs.filter(link=target).first() or docs.filter(external_id=target).first()
    else:
        found = None
        for path in candidates(target, track_path):
            rows = list(docs.filter(path=path).order_by("source_id"))
            rows.sort(key=lambda d: d.source_id != source_id)
            if rows:
                found = rows[0]
                break
    if found is None:
        return None
    return Target(found.source_id, found.external_id, found.path, found.title, found.link)


def check_url(client: httpx.Client, url: str) -> str:
    """ "" when the URL answers, else why not (in English, stored for the console)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return gettext_noop("not an http(s) URL")
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                return f"HTTP {response.status_code}"
    except httpx.TooManyRedirects:
        return "too many redirects"
    except httpx.HTTPError as exc:
        # netguard's refusal of an internal address arrives as a ConnectError with its reason.
        return str(exc) or type(exc).__name__
    return ""


def check(links: list[dict[str, Any]], source: Source, track_path: str) -> list[dict[str, Any]]:
    """Each link of a track with "ok", "problem" and the indexed "document" it names."""
    out: list[dict[str, Any]] = []
    urls_checked: dict[str, str] = {}
    client = netguard.http_client(
        timeout=TIMEOUT,
        follow_redirects=True,
        headers={"User-Agent": "Opsdesk onboarding link check"},
    )
    try:
        for link in links:
            target = str(link.get("target", ""))
            row = {"target": target, "label": link.get("label", ""), "line": link.get("line")}
            document = find_document(target, source.pk, track_path)
            row["document"] = document.to_dict() if document else None
            external = target.lower().startswith(("http://", "https://"))
            if document is not None:
                row.update(ok=True, problem="")
            elif not external:
                if ":" in target.split("/", 1)[0]:
                    problem = "not a document path or an http(s) URL"
                else:
                    problem = "no such document in the knowledge base"
                row.update(ok=False, problem=problem)
            elif target in urls_checked:
                problem = urls_checked[target]
                row.update(ok=not problem, problem=problem)
            elif len(urls_checked) >= MAX_URLS:
                row.update(ok=True, problem="", unchecked=True)
            else:
                problem = check_url(client, target)
                urls_checked[target] = problem
                row.update(ok=not problem, problem=problem)
            out.append(row)
    finally:
        client.close()
    return out
