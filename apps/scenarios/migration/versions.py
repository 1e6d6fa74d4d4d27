"""Product versions as people write them ("3.11.28", "v2.19", "1.3.x"), and the supported
upgrade hops between release series, with the shortest way through when a hop is missing."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError

_VERSION = re.compile(r"v?(\d{1,3})(?:\.(\d{1,3}|x))?(?:\.(\d{1,4}|x))?")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int = 0
    # "3.13" or "3.13.x": the series, not one release (shown as written)
    series_only: bool = False
    # "3" or "3.x": any release of the major
    any_minor: bool = False

    @property
    def series(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def __str__(self) -> str:
        if self.any_minor:
            return f"{self.major}.x"
        if self.series_only:
            return f"{self.major}.{self.minor}"
        return f"{self.major}.{self.minor}.{self.patch}"

    def series_label(self) -> str:
        return f"{self.major}.{self.minor}"


def parse(text: str, *, field: str) -> Version:
    """A version from a form field or option; InputError naming the field otherwise."""
    raw = (text or "").strip()
    match = _VERSION.fullmatch(raw)
    if not match:
        raise InputError(
            _("%(value)r is not a version like 3.13.7 or 2.19") % {"value": raw[:40]},
            field=field,
        )
    major, minor, patch = match.groups()
    if minor is None or minor == "x":
        if patch is not None:
            raise InputError(
                _("%(value)r is not a version like 3.13.7 or 2.19") % {"value": raw[:40]},
                field=field,
            )
        return Version(int(major), 0, 0, series_only=True, any_minor=True)
    return Version(
        int(major),
        int(minor),
        int(patch) if patch and patch != "x" else 0,
        series_only=patch is None or patch == "x",
    )


@dataclass(frozen=True)
class Hop:
    """One supported upgrade between release series: from `source` (at `min_patch` or later)
    to `target`."""

    source: tuple[int, int]
    target: tuple[int, int]
    min_patch: int = 0


def series_text(series: tuple[int, int]) -> str:
    return f"{series[0]}.{series[1]}"


def find_hop(hops: tuple[Hop, ...], source: Version, target: Version) -> Hop | None:
    for hop in hops:
        if hop.source == source.series and hop.target == target.series:
            return hop
    return None


def route(hops: tuple[Hop, ...], source: Version, target: Version) -> list[str] | None:
    """The intermediate releases to go through (e.g. ["3.12", "3.13"], or ["3.11.18"] when
    the source patch is too old for the hop), [] for a direct hop, None when there is no way
    at all. Within a series any later patch release is a direct upgrade."""
    if source.series == target.series:
        return []
    hop = find_hop(hops, source, target)
    if hop is not None:
        return (
            [] if source.patch >= hop.min_patch else [f"{series_text(hop.source)}.{hop.min_patch}"]
        )
    # Breadth-first over series: fewest upgrades first, then the later series at each step
    # (the guides say: go to the latest patch release of each intermediate series).
    start = source.series
    previous: dict[tuple[int, int], tuple[int, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == target.series:
            break
        for hop in sorted(hops, key=lambda h: h.target, reverse=True):
            if hop.source == node and hop.target not in previous and hop.target <= target.series:
                previous[hop.target] = node
                queue.append(hop.target)
    if target.series not in previous:
        return None
    chain: list[tuple[int, int]] = []
    node_or_none: tuple[int, int] | None = target.series
    while node_or_none is not None:
        chain.append(node_or_none)
        node_or_none = previous[node_or_none]
    chain.reverse()
    through: list[str] = []
    first = find_hop(hops, source, Version(*chain[1]))
    if first is not None and source.patch < first.min_patch:
        through.append(f"{series_text(first.source)}.{first.min_patch}")
    through += [series_text(s) for s in chain[1:-1]]
    return through
