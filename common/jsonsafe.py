"""JSON from clients, parsed with a depth limit.

Python's json module recurses once per nesting level: a body of ten thousand "[" raises
RecursionError (a 500 page), and a few hundred levels that do parse can still break code that
walks the result. Every endpoint that parses a request body or a websocket frame checks the
depth first, without parsing, and answers a client error.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # request bodies: OpenAI messages nest 4-5 levels, alert payloads 4

# A JSON string (escapes included) or one bracket; strings are skipped so "[" in text is text.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
_OPENERS = re.compile(r"[\[{]")


class TooDeep(ValueError):
    """The JSON nests deeper than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the JSON nests deeper than {limit} levels")
        self.limit = limit


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests arrays/objects deeper than `limit`, read without parsing."""
    if len(_OPENERS.findall(text, 0, len(text))) <= limit:
        return False  # cannot nest deeper than it has brackets: the common case, at C speed
    depth = 0
    for match in _TOKENS.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def loads(raw: str | bytes, limit: int = MAX_DEPTH) -> Any:
    """json.loads that raises TooDeep (a ValueError) instead of recursing without bound.

    Bytes are decoded as UTF-8 (UnicodeDecodeError as json.loads would); other errors are
    json.JSONDecodeError as usual.
    """
    text = raw.decode() if isinstance(raw, bytes | bytearray) else raw
    if too_deep(text, limit):
        raise TooDeep(limit)
    try:
        return json.loads(text)
    except RecursionError:
        raise TooDeep(limit) from None
