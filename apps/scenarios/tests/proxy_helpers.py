"""Shared helpers of the proxy-config tests: run the real analysis, find findings."""

from __future__ import annotations

import textwrap
from typing import Any

from django.utils import translation

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis
from apps.scenarios.engine.findings import Finding


def conf(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def analyze(text: str, kind: str | None = None, **params: Any) -> Analysis:
    with translation.override("en"):
        return registry.get("proxy-config").analyze(text, {"kind": kind or "", **params})


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """The 1-based number of the line holding `needle` (the nth time it appears); a needle
    starting with '^' must start the line."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(needle[1:]) if needle.startswith("^") else needle in line:
            seen += 1
            if seen == nth:
                return number
    raise AssertionError(f"{needle!r} not in the config")


def rules(analysis: Analysis) -> set[str]:
    return {f.rule for f in analysis.findings}


def only(analysis: Analysis, rule: str) -> Finding:
    found = [f for f in analysis.findings if f.rule == rule]
    assert len(found) == 1, (rule, [(f.rule, f.line, f.message) for f in analysis.findings])
    return found[0]


def blocking(analysis: Analysis) -> list[tuple[str, int | None, str]]:
    return [(f.rule, f.line, f.message) for f in analysis.findings if f.severity.blocking]
