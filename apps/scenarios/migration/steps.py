"""A checklist step: the pre-check (a command and what it must show), the action, how to
verify it worked, how to roll it back, and the guide or release notes that say so."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cite:
    """A document of the knowledge base: the vendor guide or release notes a step follows."""

    title: str
    url: str
    section: str = ""
    # The file in the vendor's documentation repository: how the knowledge base finds it
    # when an admin indexed that repository (a Git source or a directory).
    path: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "url": self.url, "section": self.section, "path": self.path}


@dataclass
class Step:
    id: str  # stable within a plan: progress is stored against it
    phase: str  # "prepare", "upgrade", "after"
    title: str
    precheck: str  # command
    expect: str  # what the pre-check must show
    action: str
    verify: str
    rollback: str
    cite: Cite
    hop: str = ""  # "3.12 → 3.13" for multi-hop plans
    blocked: str = ""  # why the step cannot be done yet (a live pre-check failed)
    details: list[str] = field(default_factory=list)  # e.g. the settings or indices concerned

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phase": self.phase,
            "hop": self.hop,
            "title": self.title,
            "precheck": {"command": self.precheck, "expect": self.expect},
            "action": self.action,
            "verify": self.verify,
            "rollback": self.rollback,
            "cite": self.cite.to_dict(),
            "blocked": self.blocked,
            "details": list(self.details),
        }
