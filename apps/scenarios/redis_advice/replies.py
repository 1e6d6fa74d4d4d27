"""redis-cli's terminal rendering of array replies, read back into lists.

In a terminal (or with --no-raw) redis-cli prints arrays as numbered lines, nested arrays
continuing on the same line, later elements aligned under the first:

    1) 1) (integer) 95
       2) (integer) 1796399795
       4) 1) "EVAL"
          2) "local i=0 ..."
     9) "clients.slaves"
    10) (integer) 0

Indices are right-aligned to the widest index of their array, so an array is identified by
the column where its markers end, not where they start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_MARKER = re.compile(r"(\d+)\) ")
# The replies read here nest three levels at most (SLOWLOG GET); deeper is not redis-cli output.
MAX_DEPTH = 8
_LEAD = re.compile(r"^(?: *\d+\) )+")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class ReplyError:
    """An `(error) …` element."""

    message: str


def is_reply_line(line: str) -> bool:
    return bool(_LEAD.match(line))


def is_typed(line: str) -> bool:
    """Whether a numbered line holds a redis-cli value ("…", (integer) …), not prose that
    happens to be numbered like the advice list of LATENCY DOCTOR."""
    lead = _LEAD.match(line)
    rest = line[lead.end() :] if lead else ""
    return rest.startswith(('"', "(integer) ", "(double) ", "(nil)", "(error) ", "(empty "))


def first_marker_end(line: str) -> int | None:
    """The column where the line's first index marker ends: which array it continues."""
    lead = _LEAD.match(line)
    if lead is None:
        return None
    m = _MARKER.search(line)
    return m.end() if m else None


def scalar(text: str) -> Any:
    """One element as redis-cli prints it: (integer) 5, "quoted", (nil), (error) …, (double) 1.5."""
    text = text.strip()
    if text.startswith("(integer) "):
        try:
            return int(text[10:])
        except ValueError:
            return text[10:]
    if text.startswith("(double) "):
        try:
            return float(text[9:])
        except ValueError:
            return text[9:]
    if text == "(nil)":
        return None
    if text.startswith("(error) "):
        return ReplyError(text[8:])
    if text in ("(empty array)", "(empty list or set)"):
        return []
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return unquote(text[1:-1])
    return text


def unquote(body: str) -> str:
    """redis-cli's sdscatrepr escaping undone: \\n, \\", \\\\, \\xHH."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", body[i + 2 : i + 4]):
                out.append(chr(int(body[i + 2 : i + 4], 16)))
                i += 4
                continue
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse(lines: list[str]) -> list[Any]:
    """The array reply printed on `lines` (each starting with a marker). Raises ValueError on
    a line whose markers fit no array seen so far."""
    root: list[Any] | None = None
    stack: list[tuple[int, list[Any]]] = []  # (marker end column, array)
    for n, line in enumerate(lines, 1):
        lead = _LEAD.match(line)
        if lead is None:
            raise ValueError(f"line {n}: not an element of the reply")
        ends = [m.end() for m in _MARKER.finditer(line, 0, lead.end())]
        if len(ends) > MAX_DEPTH:
            raise ValueError(f"line {n}: nested deeper than any reply read here")
        first = ends[0]
        while stack and stack[-1][0] > first:
            stack.pop()
        if not stack:
            if root is not None:
                raise ValueError(f"line {n}: element outside the reply")
            root = []
            stack.append((first, root))
        elif stack[-1][0] != first:
            raise ValueError(f"line {n}: misaligned element")
        if len(stack) + len(ends) - 1 > MAX_DEPTH:
            raise ValueError(f"line {n}: nested deeper than any reply read here")
        target = stack[-1][1]
        for end in ends[1:]:
            nested: list[Any] = []
            target.append(nested)
            stack.append((end, nested))
            target = nested
        target.append(scalar(line[lead.end() :]))
    return root or []


def pairs(reply: list[Any]) -> dict[str, Any]:
    """A flat key, value, key, value… reply (CONFIG GET, MEMORY STATS) as a dict."""
    return {str(reply[i]): reply[i + 1] for i in range(0, len(reply) - 1, 2)}
