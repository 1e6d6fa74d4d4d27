"""Label matchers in Alertmanager's syntax, for routing triages to chat destinations.

`team=storage, severity=~"critical|warning", namespace!="kube-system"`: every matcher must
hold (regexes are anchored, as in Alertmanager; a missing label is the empty string).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_MATCHER = re.compile(
    r"""\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*
    (?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^,"]*?))\s*(?:,|$)""",
    re.X,
)


class MatcherError(ValueError):
    """A matcher list that does not parse; the message names the position."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse(text: str) -> list[Matcher]:
    text = (text or "").strip().strip("{}").strip()
    out: list[Matcher] = []
    pos = 0
    while pos < len(text):
        match = _MATCHER.match(text, pos)
        if match is None or match.end() == pos:
            raise MatcherError(
                f"cannot read a matcher at character {pos + 1}: {text[pos : pos + 30]!r} "
                '(expected name=value, name!=value, name=~"regex" or name!~"regex")'
            )
        value = match.group("quoted")
        value = re.sub(r"\\(.)", r"\1", value) if value is not None else match.group("bare").strip()
        op = match.group("op")
        pattern = None
        if op in ("=~", "!~"):
            try:
                pattern = re.compile(value)
            except re.error as exc:
                raise MatcherError(
                    f"{match.group('name')}: bad regular expression: {exc}"
                ) from None
        out.append(Matcher(match.group("name"), op, value, pattern))
        pos = match.end()
    return out


def matches(matchers: list[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
