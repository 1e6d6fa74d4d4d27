"""Checks of what the model wrote: every code, config or query block in its explanation goes
through the scenario's real checker, and only a block that passed is offered as ready to use.

A scenario checks blocks by overriding `Scenario.check_block(block, analysis)` (one block at
a time, the usual case) or `Scenario.check_answer(text, analysis)` (the whole answer, e.g. a
playbook split over several blocks). Blocks it does not check are shown as "not checked",
never as ready.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

# A fenced block in CommonMark: ``` or ~~~ (three or more), an optional info string, the
# body, and a closing fence of the same character at least as long.
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)$")


class Verdict(StrEnum):
    PASSED = "passed"  # the checker accepted it: offered as ready (copy button)
    FAILED = "failed"  # the checker rejected it: its message is shown
    UNCHECKED = "unchecked"  # no checker for this kind of block, or the tool is missing


@dataclass(frozen=True, slots=True)
class Block:
    """A fenced code block of the model's answer."""

    index: int  # 0-based among the answer's blocks
    lang: str  # the info string's first word, lower case ("nginx", "yaml", ""); may be wrong
    code: str
    line: int  # 1-based line of the opening fence in the answer


@dataclass(frozen=True, slots=True)
class Check:
    """The verdict on one block."""

    block: int
    lang: str
    code: str
    verdict: Verdict
    tool: str = ""  # what checked it, e.g. "nginx -t", "ansible-lint"
    message: str = ""  # the tool's own message when it failed; why, when not checked

    @property
    def ready(self) -> bool:
        return self.verdict == Verdict.PASSED

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = str(self.verdict)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Check:
        return cls(
            block=int(raw.get("block", 0)),
            lang=str(raw.get("lang", "")),
            code=str(raw.get("code", "")),
            verdict=Verdict(str(raw.get("verdict", Verdict.UNCHECKED))),
            tool=str(raw.get("tool", "")),
            message=str(raw.get("message", "")),
        )

    @classmethod
    def unchecked(cls, block: Block, message: str = "") -> Check:
        return cls(block.index, block.lang, block.code, Verdict.UNCHECKED, message=message)


def code_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown answer, in order. An unclosed block runs to the
    end, as CommonMark renders it."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None or ("`" in opening["info"] and opening["fence"][0] == "`"):
            i += 1
            continue
        fence, start = opening["fence"], i
        indent = len(opening["indent"])
        body: list[str] = []
        i += 1
        while i < len(lines):
            closing = _FENCE.match(lines[i])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            # Lines of an indented fence lose up to that much indentation.
            line = lines[i]
            strip = min(indent, len(line) - len(line.lstrip(" ")))
            body.append(line[strip:])
            i += 1
        info = opening["info"].strip().split()
        lang = info[0].lower() if info else ""
        blocks.append(Block(len(blocks), lang, "\n".join(body) + ("\n" if body else ""), start + 1))
        i += 1
    return blocks
