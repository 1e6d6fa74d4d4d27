"""The table of Ceph health codes: what each means, what to check first, which commands are
safe to run and which need care.

It covers every code of Ceph's health-checks reference (doc/rados/operations/health-checks.rst,
the page the knowledge base holds); a test parses that page and fails when a code is missing.
Each entry names its exact section of that page, so grounding can cite it. Codes the
reference does not list (MDS, cephadm, newer releases) are flagged by the analysis, never
explained from here.

The texts are the portal's own words. They never name another health code: related codes
are linked by the analysis, and only when they are in the same input.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import IntEnum

from django.utils.functional import Promise

DOC_PATH = "doc/rados/operations/health-checks.rst"
DOC_TITLE = "Health checks"
DOC_URL = "https://docs.ceph.com/en/latest/rados/operations/health-checks/"

# The reference's subsections, as the knowledge base's parser names them.
MONITOR = "Monitor"
MANAGER = "Manager"
OSDS = "OSDs"
DEVICES = "Device health"
DATA = "Data health (pools & placement groups)"
STRETCH = "Stretch Mode"
MISC = "Miscellaneous"

# The heading the reference uses for the per-CRUSH-level codes (OSD_HOST_DOWN, OSD_RACK_DOWN…).
SUBTREE_DOWN = "OSD_<crush type>_DOWN"
_SUBTREE_RE = re.compile(r"^OSD_([A-Z][A-Z0-9]*)_DOWN$")


class Impact(IntEnum):
    """What a failing check hurts; the lower, the sooner an on-call engineer looks."""

    AVAILABILITY = 0  # client I/O blocked now
    REDUNDANCY = 1  # fewer copies than wanted, or integrity in question
    CAPACITY = 2  # running out of space
    CONTROL = 3  # monitors, managers, daemons
    PERFORMANCE = 4
    CONFIG = 5  # settings and housekeeping


@dataclass(frozen=True)
class Care:
    """A command that changes the cluster, and why it is not a first step."""

    command: str
    note: str | Promise


@dataclass(frozen=True)
class HealthCode:
    code: str  # as the reference heads its section
    groups: tuple[str, ...]  # the reference's subsection(s) holding it
    impact: Impact
    meaning: str | Promise
    check_first: str | Promise
    safe: tuple[str, ...]  # read-only or harmless commands, offered first
    care: tuple[Care, ...] = ()
    # Codes that, when they are in the same input, usually explain this one.
    explained_by: tuple[str, ...] = ()
    # Ceph's usual severity, used where the input does not say (ceph -s text, old format).
    severity: str = "HEALTH_WARN"

    @property
    def sections(self) -> tuple[str, ...]:
        """The section paths in the knowledge base: 'Health checks > Definitions > OSDs > X'."""
        return tuple(f"{DOC_TITLE} > Definitions > {g} > {self.code}" for g in self.groups)

    @property
    def anchor(self) -> str:
        """The section's anchor on docs.ceph.com (Sphinx: lower case, runs of others to '-')."""
        return re.sub(r"[^a-z0-9]+", "-", self.code.lower()).strip("-")


@functools.cache
def table() -> dict[str, HealthCode]:
    """Every entry by its code (imported late: the table modules import this one)."""
    from apps.scenarios.ceph_health import table_data, table_mon, table_osd

    table: dict[str, HealthCode] = {}
    for entry in (*table_mon.CODES, *table_osd.CODES, *table_data.CODES):
        if entry.code in table:
            raise ValueError(f"{entry.code} is in the health code table twice")
        table[entry.code] = entry
    return table


def lookup(code: str) -> HealthCode | None:
    """The entry for a code as Ceph reports it; OSD_HOST_DOWN, OSD_RACK_DOWN… share one."""
    entries = table()
    if code in entries:
        return entries[code]
    if code != "OSD_DOWN" and _SUBTREE_RE.match(code):
        return entries[SUBTREE_DOWN]
    return None


def canonical(code: str) -> str | None:
    """The table key a reported code falls under, or None when the table does not know it."""
    entry = lookup(code)
    return entry.code if entry else None
