"""Figures as an engineer reads them, and the evidence line of an INFO field."""

from __future__ import annotations

from django.utils import formats

from apps.scenarios.redis_advice.snapshot import Snapshot

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def size(n: float | None) -> str:
    if n is None:
        return "?"
    for unit, factor in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if abs(n) >= factor:
            return f"{formats.number_format(n / factor, 1)} {unit}"
    return f"{int(n)} B"


def count(n: float | None) -> str:
    return "?" if n is None else str(formats.number_format(int(n), 0, force_grouping=True))


def ms(usec: float) -> str:
    return f"{formats.number_format(usec / 1000, 1)} ms"


def percent(ratio: float) -> str:
    return f"{formats.number_format(ratio * 100, 0)}%"


def evidence(snap: Snapshot, *keys: str) -> tuple[str, int | None]:
    """'key:value' for each INFO field given (the first one's input line), as pasted."""
    parts = [f"{k}:{snap.info[k]}" for k in keys if k in snap.info]
    line = next((snap.line(k) for k in keys if snap.line(k) is not None), None)
    return ", ".join(parts), line


def config(snap: Snapshot, name: str, info_key: str = "") -> str | None:
    """A setting from CONFIG GET, or its copy in INFO (maxmemory, maxmemory_policy…)."""
    if name in snap.config:
        return snap.config[name]
    if info_key and info_key in snap.info:
        return snap.info[info_key]
    return None
