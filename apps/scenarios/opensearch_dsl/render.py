"""A request shown the ways people run it: the JSON body, a Dev Tools console request, and a
curl command (credentials from the shell's environment, never written into the page)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

PLACEHOLDER_URL = "https://opensearch:9200"


def body_json(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, indent=2)


def method(endpoint: str) -> str:
    return "GET"


def dev_tools(pattern: str, endpoint: str, body: dict[str, Any]) -> str:
    head = f"{method(endpoint)} {pattern}/{endpoint}"
    return f"{head}\n{body_json(body)}" if body else head


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def curl(pattern: str, endpoint: str, body: dict[str, Any]) -> str:
    base = getattr(settings, "OPENSEARCH_URL", "") or PLACEHOLDER_URL
    url = f"{base.rstrip('/')}/{pattern}/{endpoint}?pretty"
    parts = ["curl -s", '-u "$OPENSEARCH_USER:$OPENSEARCH_PASSWORD"', f"-X {method(endpoint)}"]
    parts.append(_shell_quote(url))
    if body:
        parts.append("-H 'Content-Type: application/json'")
        compact = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        parts.append("-d " + _shell_quote(compact))
    return " \\\n  ".join(parts)


def request(pattern: str, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    """Everything the page and the command line show for one request."""
    return {
        "method": method(endpoint),
        "endpoint": endpoint,
        "path": f"{pattern}/{endpoint}",
        "body": body,
        "json": body_json(body),
        "dev_tools": dev_tools(pattern, endpoint, body),
        "curl": curl(pattern, endpoint, body),
    }
