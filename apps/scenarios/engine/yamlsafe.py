"""YAML that a scenario reads from a user: refused before it can hurt, kept with its lines.

A pasted YAML file can be a "billion laughs" (nine anchors, each aliasing the previous one
ten times, expand to 10^9 nodes), nested ten thousand levels deep (PyYAML's composer and
every tool after it recurse), or simply malformed. `guard()` reads the event stream once,
iteratively, counting how many nodes the aliases would expand to and how deep the
collections go, and raises InputError naming the line before anything else (a parser that
builds objects, ansible, a linter) sees the text. `load()` then composes the node tree,
whose nodes keep their line numbers for findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError

MAX_DEPTH = 64
MAX_EXPANDED_NODES = 100_000

try:  # libyaml's parser when the wheel has it: the event scan is then ~10x faster
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class SyntaxProblem:
    """The YAML parser's own complaint, with its 1-based line and column."""

    message: str
    line: int | None
    column: int | None


def _line(mark: Any) -> int | None:  # yaml.Mark, or libyaml's own Mark type
    return mark.line + 1 if mark is not None else None


def guard(
    text: str, *, max_depth: int = MAX_DEPTH, limit: int = MAX_EXPANDED_NODES
) -> SyntaxProblem | None:
    """Raise InputError for alias bombs and too deep nesting. A syntax error is returned,
    not raised (the same as `syntax_problem()`, without parsing twice): it is a finding,
    not a refusal."""
    # Per open collection: [node count so far, anchor or None]. `total` is every node the
    # aliases expand to; `plain` the nodes written in the text. Only the difference is
    # refused: a large catalog without aliases is read, a billion laughs is not.
    stack: list[list[object]] = [[0, None]]
    sizes: dict[str, int] = {}
    total = plain = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                if len(stack) > max_depth:
                    raise InputError(
                        _("the YAML is nested more than %(n)d levels deep") % {"n": max_depth},
                        line=_line(event.start_mark),
                    )
                stack.append([1, event.anchor])
                total += 1
                plain += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                count, anchor = stack.pop()
                assert isinstance(count, int)
                if isinstance(anchor, str):
                    sizes[anchor] = count
                stack[-1][0] = int(stack[-1][0]) + count  # type: ignore[call-overload]
                continue
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor:
                    sizes[event.anchor] = 1
                stack[-1][0] = int(stack[-1][0]) + 1  # type: ignore[call-overload]
                total += 1
                plain += 1
            elif isinstance(event, yaml.AliasEvent):
                size = sizes.get(event.anchor or "", 1)
                stack[-1][0] = int(stack[-1][0]) + size  # type: ignore[call-overload]
                total += size
                plain += 1
            else:
                continue
            if total - plain > limit:
                raise InputError(
                    _(
                        "the YAML's anchors and aliases expand to more than %(n)d nodes "
                        "(an alias bomb?); it is not read"
                    )
                    % {"n": limit},
                    line=_line(event.start_mark),
                )
    except yaml.MarkedYAMLError as exc:
        # libyaml stops at 1,000 levels before we see them; that is depth, not a typo.
        if "nesting depth" in str(exc.problem):
            raise InputError(
                _("the YAML is nested more than %(n)d levels deep") % {"n": max_depth},
                line=_line(exc.problem_mark),
            ) from None
        return _problem(exc)  # malformed: a finding of the caller's, with the line
    except yaml.YAMLError as exc:
        return SyntaxProblem(str(exc), None, None)
    return None


def _problem(exc: yaml.MarkedYAMLError) -> SyntaxProblem:
    mark = exc.problem_mark or exc.context_mark
    message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
    return SyntaxProblem(message, _line(mark), mark.column + 1 if mark else None)


def syntax_problem(text: str) -> SyntaxProblem | None:
    """The first syntax error in the text, or None when it parses."""
    try:
        for _event in yaml.parse(text, Loader=_Loader):
            pass
    except yaml.MarkedYAMLError as exc:
        return _problem(exc)
    except yaml.YAMLError as exc:
        return SyntaxProblem(str(exc), None, None)
    return None


def load(text: str) -> list[yaml.Node]:
    """Guard the text and compose its documents (empty documents skipped). Raises
    InputError for refused or malformed YAML, naming the line."""
    problem = guard(text)
    if problem is not None:
        raise InputError(
            _("the YAML does not parse: %(problem)s") % {"problem": problem.message},
            line=problem.line,
        )
    return [doc for doc in yaml.compose_all(text, Loader=_Loader) if doc is not None]


# --- reading composed nodes ----------------------------------------------------------------


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def is_map(node: yaml.Node | None) -> bool:
    return isinstance(node, yaml.MappingNode)


def is_seq(node: yaml.Node | None) -> bool:
    return isinstance(node, yaml.SequenceNode)


def is_scalar(node: yaml.Node | None) -> bool:
    return isinstance(node, yaml.ScalarNode)


def items(node: yaml.Node | None) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
    """(key text, key node, value node) of a mapping; nothing for anything else."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield str(key.value), key, value


def get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    for name, _key, value in items(node):
        if name == key:
            return value
    return None


def key_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    for name, knode, _value in items(node):
        if name == key:
            return knode
    return None


def seq(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def text(node: yaml.Node | None) -> str | None:
    """A scalar's text (None for collections and missing nodes, "" for null)."""
    if isinstance(node, yaml.ScalarNode):
        return "" if node.tag == "tag:yaml.org,2002:null" else str(node.value)
    return None


def truthy(node: yaml.Node | None) -> bool:
    value = (text(node) or "").strip().lower()
    return value in {"true", "yes", "on", "y", "1"}


def to_python(node: yaml.Node) -> object:
    """Plain Python objects from a node already guarded by `guard()`."""
    loader = _Loader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()
