"""Where scenarios are found: each scenario module registers one instance at import.

AppConfig.ready() imports every module and package under apps/scenarios/ that is not part
of the engine, so adding a scenario touches no other file.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from pathlib import Path

from apps.scenarios.engine.base import Scenario

_SCENARIOS: dict[str, Scenario] = {}
# Packages under apps/scenarios/ that are not scenarios.
NOT_SCENARIOS = {"engine", "management", "migrations", "tests", "templatetags"}
_PLAIN_MODULES = {
    *("apps", "catalog", "urls", "views", "models", "actions", "forms", "tasks"),
    *("api", "sharing", "consumers", "routing", "explanation", "console", "console_urls"),
}


class UnknownScenario(KeyError):
    def __init__(self, slug: str) -> None:
        known = sorted(_SCENARIOS)
        close = difflib.get_close_matches(slug, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        self.message = f"no scenario {slug!r}{hint} available: {', '.join(known) or 'none'}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def register[S: Scenario](scenario: S) -> S:
    slug = scenario.slug
    if slug in _SCENARIOS and type(_SCENARIOS[slug]) is not type(scenario):
        raise ValueError(f"two scenarios claim the slug {slug!r}")
    _SCENARIOS[slug] = scenario
    return scenario


def get(slug: str) -> Scenario:
    try:
        return _SCENARIOS[slug]
    except KeyError:
        raise UnknownScenario(slug) from None


def available() -> dict[str, Scenario]:
    return dict(_SCENARIOS)


def discover() -> None:
    """Import every scenario module under apps/scenarios/ (called from AppConfig.ready)."""
    root = Path(__file__).resolve().parent.parent
    for module in pkgutil.iter_modules([str(root)]):
        if module.name in NOT_SCENARIOS or module.name in _PLAIN_MODULES:
            continue
        importlib.import_module(f"apps.scenarios.{module.name}")
