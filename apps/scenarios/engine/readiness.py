"""/readyz detail: which scenario checkers are installed (not required for readiness: a
missing nginx disables one check of one page, not the portal)."""

from __future__ import annotations

from apps.scenarios.engine import registry, runner
from common.health import CheckResult


def check() -> CheckResult:
    missing: dict[str, list[str]] = {}
    for slug, scenario in sorted(registry.available().items()):
        for tool in scenario.tools:
            if not runner.installed(tool):
                missing.setdefault(tool, []).append(slug)
    if not missing:
        return CheckResult(True, "all checkers installed")
    detail = "; ".join(f"{t} not installed (used by {', '.join(s)})" for t, s in missing.items())
    return CheckResult(False, detail)
