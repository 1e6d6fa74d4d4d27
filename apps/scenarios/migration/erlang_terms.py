"""advanced.config read as data: Erlang terms parsed by a small tokenizer, never evaluated.

advanced.config is `[{App, [{Key, Value}, ...]}, ...].`: tuples, lists, atoms, quoted atoms,
strings, binaries, numbers and comments. Nothing here runs Erlang (`file:consult` would,
through `erl`), so a pasted file cannot do anything but be read. Funs, pids, records and
macros are refused with the line; depth and size are bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError

MAX_DEPTH = 64
MAX_TERMS = 200_000


@dataclass(frozen=True)
class Atom:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass
class Tuple:
    items: list[Any]
    line: int


@dataclass
class List:
    items: list[Any]
    line: int
    tail: Any = None


@dataclass(frozen=True)
class Binary:
    text: str


@dataclass
class Term:
    """A key/value pair found by walking the config: {Key, Value} inside an application."""

    path: tuple[str, ...]
    value: Any
    line: int
    children: list[Term] = field(default_factory=list)


_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\f\v]+) | (?P<nl>\n) | (?P<comment>%[^\n]*)
  | (?P<float>-?\d+\.\d+(?:[eE][+-]?\d+)?)
  | (?P<int>-?\d+\#[0-9a-zA-Z]+ | -?\d+)
  | (?P<char>\$\\?.)
  | (?P<atom>[a-z][A-Za-z0-9_@]*)
  | (?P<qatom>'(?:[^'\\\n]|\\.)*')
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<binopen><<) | (?P<binclose>>>)
  | (?P<punct>[{}\[\],|.])
  | (?P<var>[A-Z_][A-Za-z0-9_@]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    line = 1
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        value = match.group()
        if kind == "nl":
            line += 1
            continue
        if kind in ("ws", "comment"):
            continue
        if kind in ("var", "other"):
            what = _("a variable") if kind == "var" else repr(value)
            raise InputError(
                _("advanced.config holds data only; %(what)s is not a term it can hold")
                % {"what": what},
                line=line,
                field="advanced_config",
            )
        out.append((kind, value, line))
        line += value.count("\n")
        if len(out) > MAX_TERMS:
            raise InputError(_("advanced.config is too large to read"), field="advanced_config")
    return out


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str, int]:
        if self.pos >= len(self.tokens):
            last = self.tokens[-1][2] if self.tokens else 1
            raise InputError(
                _("advanced.config ends too early"), line=last, field="advanced_config"
            )
        return self.tokens[self.pos]

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if value is not None and token[1] != value:
            raise InputError(
                _("expected %(want)r, found %(got)r") % {"want": value, "got": token[1]},
                line=token[2],
                field="advanced_config",
            )
        self.pos += 1
        return token

    def term(self, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise InputError(
                _("advanced.config is nested too deeply"),
                line=self.peek()[2],
                field="advanced_config",
            )
        kind, value, line = self.take()
        if kind == "punct" and value == "{":
            return Tuple(self._items("}", depth), line)
        if kind == "punct" and value == "[":
            items = self._items("]", depth, allow_tail=True)
            tail = items.pop() if items and isinstance(items[-1], _Tail) else None
            return List(items, line, tail.term if tail else None)
        if kind == "binopen":
            parts = self._items(">>", depth)
            return Binary("".join(p if isinstance(p, str) else str(p) for p in parts))
        if kind == "atom":
            return Atom(value)
        if kind == "qatom":
            return Atom(_unquote(value))
        if kind == "string":
            return _unquote(value)
        if kind == "int":
            if "#" in value:
                base, digits = value.lstrip("-").split("#", 1)
                number = int(digits, int(base)) if 2 <= int(base) <= 36 else 0
                return -number if value.startswith("-") else number
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "char":
            return ord(value[-1])
        raise InputError(
            _("unexpected %(token)r") % {"token": value}, line=line, field="advanced_config"
        )

    def _items(self, close: str, depth: int, allow_tail: bool = False) -> list[Any]:
        items: list[Any] = []
        if self.peek()[1] == close:
            self.take()
            return items
        while True:
            items.append(self.term(depth + 1))
            sep = self.take()
            if sep[1] == close:
                return items
            if sep[1] == "|" and allow_tail:
                items.append(_Tail(self.term(depth + 1)))
                self.take(close)
                return items
            if sep[1] != ",":
                raise InputError(
                    _("expected ',' or %(close)r, found %(got)r") % {"close": close, "got": sep[1]},
                    line=sep[2],
                    field="advanced_config",
                )


@dataclass
class _Tail:
    term: Any


def parse(text: str) -> Any:
    """The one term of an advanced.config (`[...].`), as Atom/Tuple/List/str/int values."""
    tokens = _tokens(text)
    if not tokens:
        raise InputError(_("advanced.config is empty"), field="advanced_config")
    parser = _Parser(tokens)
    term = parser.term()
    parser.take(".")
    if parser.pos != len(tokens):
        raise InputError(
            _("only one term, ended by '.', may be in advanced.config"),
            line=tokens[parser.pos][2],
            field="advanced_config",
        )
    if not isinstance(term, List):
        raise InputError(
            _("advanced.config must be a list of {application, [settings]} tuples"),
            line=tokens[0][2],
            field="advanced_config",
        )
    return term


def settings(term: List) -> list[Term]:
    """Every {Key, Value} under each {App, [...]}: path (app, key[, subkey…]), value, line."""
    out: list[Term] = []

    def walk(items: list[Any], path: tuple[str, ...], depth: int) -> None:
        for item in items:
            if isinstance(item, Tuple) and len(item.items) == 2 and isinstance(item.items[0], Atom):
                key = path + (item.items[0].name,)
                value = item.items[1]
                out.append(Term(key, value, item.line))
                if isinstance(value, List) and depth < 4:
                    walk(value.items, key, depth + 1)

    walk(term.items, (), 0)
    return out


def plain(value: Any) -> Any:
    """Python values for display: atoms as names, tuples and lists as lists."""
    if isinstance(value, Atom):
        return value.name
    if isinstance(value, Binary):
        return value.text
    if isinstance(value, Tuple | List):
        return [plain(v) for v in value.items]
    return value
