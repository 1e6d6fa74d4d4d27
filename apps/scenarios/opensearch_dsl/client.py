"""The OpenSearch the portal may ask (OPENSEARCH_URL): a pattern's mapping, whether a query is
valid, and how many documents it matches. Read-only calls only: GET _mapping, and the
_validate/query and _count APIs, which read and never write.

The index pattern goes into a URL path, so it is checked first: lower-case index names,
wildcards and commas only, no path separators, no `..`, nothing starting with `_` or `-`
(no `_cluster/settings` reached through a clever pattern).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError

TIMEOUT = httpx.Timeout(10.0, connect=3.0)
MAX_RESPONSE_BYTES = 20 * 1024 * 1024
_PATTERN = re.compile(r"^[a-z0-9*][a-z0-9*._+-]*(?:,[a-z0-9*][a-z0-9*._+-]*)*$")


class OpenSearchError(Exception):
    """OpenSearch could not be asked, or answered with an error; the message says which."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


def configured() -> bool:
    return bool(getattr(settings, "OPENSEARCH_URL", ""))


def check_pattern(pattern: str, field: str = "index") -> str:
    pattern = pattern.strip()
    if not pattern:
        raise InputError(_("Give the index pattern, e.g. logs-*."), field=field)
    if len(pattern) > 255:
        raise InputError(_("The index pattern is longer than 255 characters."), field=field)
    if pattern != pattern.lower():
        raise InputError(
            _("Index names are lower case: %(p)s") % {"p": pattern.lower()}, field=field
        )
    if ".." in pattern or not _PATTERN.match(pattern):
        raise InputError(
            _(
                "'%(p)s' is not an index pattern: use lower-case letters, digits, - _ . + and * "
                "(several separated by commas)"
            )
            % {"p": pattern[:80]},
            field=field,
        )
    return pattern


@dataclass(frozen=True)
class Validation:
    valid: bool
    explanation: str = ""


def _client() -> httpx.Client:
    auth = None
    if settings.OPENSEARCH_USERNAME:
        auth = httpx.BasicAuth(settings.OPENSEARCH_USERNAME, settings.OPENSEARCH_PASSWORD)
    verify: Any = settings.OPENSEARCH_CA_FILE or True
    return httpx.Client(timeout=TIMEOUT, auth=auth, verify=verify, follow_redirects=False)


def _reason(body: Any) -> str:
    """The reason of an OpenSearch error body ({"error": {"type", "reason", "root_cause"}})."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            kind = str(error.get("type", ""))
            reason = str(error.get("reason", ""))
            return f"{kind}: {reason}" if kind else reason
        if isinstance(error, str):
            return error
    return ""


def _call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    base = settings.OPENSEARCH_URL.rstrip("/")
    url = f"{base}/{path}"
    try:
        with _client() as http:
            response = http.request(
                method,
                url,
                json=body,
                headers={"Accept": "application/json"},
            )
            raw = response.content[: MAX_RESPONSE_BYTES + 1]
    except httpx.HTTPError as exc:
        raise OpenSearchError(
            _("OpenSearch at %(url)s cannot be reached: %(error)s")
            % {"url": base, "error": f"{type(exc).__name__}: {exc}"}
        ) from None
    if len(raw) > MAX_RESPONSE_BYTES:
        raise OpenSearchError(_("OpenSearch's answer is larger than 20 MB."))
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    if response.status_code == 401:
        raise OpenSearchError(
            _(
                "OpenSearch refused the portal's credentials (401): check OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD."
            ),
            401,
        )
    if response.status_code >= 400:
        reason = _reason(data) or raw[:300].decode("utf-8", "replace")
        raise OpenSearchError(
            _("OpenSearch answered %(status)d: %(reason)s")
            % {"status": response.status_code, "reason": reason},
            response.status_code,
        )
    if data is None:
        raise OpenSearchError(_("OpenSearch's answer is not JSON."))
    return data


def _index(pattern: str) -> str:
    return quote(check_pattern(pattern), safe="*,")


def get_mapping(pattern: str) -> str:
    """The `GET <pattern>/_mapping` response, as JSON text (what a user would paste)."""
    data = _call("GET", f"{_index(pattern)}/_mapping")
    if not data:
        raise OpenSearchError(_("No index matches %(p)s.") % {"p": pattern}, 404)
    return json.dumps(data, ensure_ascii=False, indent=1)


def validate_query(pattern: str, query: dict[str, Any] | None) -> Validation:
    """OpenSearch's own verdict on the query part (`_validate/query?explain=true`)."""
    body = {"query": query} if query is not None else {"query": {"match_all": {}}}
    data = _call("POST", f"{_index(pattern)}/_validate/query?explain=true", body)
    explanations = data.get("explanations") or []
    text = "; ".join(
        str(e.get("error") or e.get("explanation") or "")
        for e in explanations
        if isinstance(e, dict)
    )
    return Validation(bool(data.get("valid")), text[:2000])


def count(pattern: str, query: dict[str, Any] | None) -> int:
    """How many documents the query matches (`_count`)."""
    body = {"query": query} if query is not None else None
    data = _call("POST", f"{_index(pattern)}/_count", body)
    try:
        return int(data["count"])
    except (KeyError, TypeError, ValueError):
        raise OpenSearchError(_("OpenSearch's _count answer has no count.")) from None
