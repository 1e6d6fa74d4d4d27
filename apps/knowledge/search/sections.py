"""Section-aware ranking: the identifiers a heading names, and finding them in a query.

Long reference pages (Ceph's health checks, Nginx's directives, Data Prepper's processors)
are one section per thing, and the heading is that thing's name: `PG_DEGRADED`,
`proxy_pass`, "Add entries processor" (configured as `add_entries`). A query naming one
exactly ranks the sections whose headings name it first (retrieval.search); the headings are
read from each hit's title and section path, so an existing index needs no rebuild.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# Candidate tokens are cut first and matched whole, so crafted text cannot make the
# patterns backtrack: nothing longer than MAX_IDENTIFIER is an identifier.
_TOKEN = re.compile(r"[A-Za-z0-9_.\-()]+")
MAX_IDENTIFIER = 60
# snake_case / SCREAMING_CASE (PG_DEGRADED, proxy_pass, otelcol_scraper_errored_records),
# optionally dotted or dashed further.
_SNAKE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?:[.\-][A-Za-z0-9_]+)*")
# camelCase or CamelCase (KubeHpaMaxedOut, etcdHighFsyncDurations); a plain capitalised
# word ("Grok") is not one, and see _camel_identifier for how many humps it takes.
_CAMEL = re.compile(r"[a-z]+(?:[A-Z][a-z0-9]+)+|[A-Z][a-z0-9]+(?:[A-Z]+[a-z0-9]*)+")
# Heading words that name what the preceding words are, as in "Add entries processor": the
# component is configured by the snake_case of those words (add_entries).
_HUMP = re.compile(r"[A-Z]{2,}(?=[A-Z][a-z]|[0-9]|$)|[A-Z]?[a-z0-9]+")
_KINDS = frozenset(
    [
        "processor",
        "source",
        "sink",
        "buffer",
        "query",
        "aggregation",
        "receiver",
        "exporter",
        "extension",
        "connector",
        "directive",
        "module",
        "function",
        "filter",
        "codec",
    ]
)
_WORDS = re.compile(r"[A-Za-z][A-Za-z0-9]*")
MAX_PER_CHUNK = 12


def _camel_identifier(token: str) -> bool:
    # Two humps are a product or a kind (OpenSearch, RabbitMQ, DaemonSet, NotReady) that a
    # whole corpus names in its headings; three or more name one thing (KubeHpaMaxedOut,
    # KubeCPUOvercommit, etcdHighFsyncDurations).
    if not _CAMEL.fullmatch(token) or not any(c.islower() for c in token):
        return False
    return len(_HUMP.findall(token)) >= 3


def in_text(text: str) -> list[str]:
    """Identifiers written in a text (lower-cased, in order, no repeats)."""
    found: list[str] = []
    for raw in _TOKEN.findall(text):
        token = raw.strip(".-()")
        if len(token) > MAX_IDENTIFIER:
            continue
        if _SNAKE.fullmatch(token) or _camel_identifier(token):
            found.append(token.lower())
    return list(dict.fromkeys(found))


def of_heading(heading: str) -> list[str]:
    """The identifiers one heading names: the code-like words in it, and for "<words>
    <kind>" headings (processor, query, aggregation, ...) the snake_case of the words."""
    out = in_text(heading)
    words = _WORDS.findall(heading.replace("-", " "))
    if 3 <= len(words) <= 5 and words[-1].lower() in _KINDS:
        out.append("_".join(w.lower() for w in words[:-1]))
    return list(dict.fromkeys(out))


def of_path(path: Sequence[str]) -> list[str]:
    """The identifiers of a chunk's section path, innermost heading first."""
    out: list[str] = []
    for heading in reversed(path):
        out.extend(of_heading(heading))
    return list(dict.fromkeys(out))[:MAX_PER_CHUNK]


def in_query(query: str) -> set[str]:
    """Identifiers a query names exactly (as written, case aside)."""
    return set(in_text(query))


def names(identifiers: Iterable[str]) -> str:
    return ", ".join(identifiers)
