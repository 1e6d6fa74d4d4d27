"""The check of a configuration the model proposes (a YAML block of its explanation): the
structural checker (and otelcol validate when configured) runs again on it; it is ready
when no error remains, otherwise the first remaining error and how many there are."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.otel_pipeline import scenario

LANGS = {"yaml", "yml", "otel", "otelcol", "data-prepper", ""}
TOOL = "otel-pipeline checker"


@dataclass(frozen=True)
class BlockCheck:
    """passed, failed (with what remains) or unchecked (not a pipeline config)."""

    verdict: str
    tool: str = ""
    message: str = ""
    errors: int = 0


def check_config(code: str, lang: str = "") -> BlockCheck:
    if lang.strip().lower() not in LANGS:
        return BlockCheck("unchecked")
    try:
        kind = scenario.detect(code)
        if kind == "logs":
            return BlockCheck("unchecked")
        analysis = scenario.check_config(code, kind)
    except InputError as exc:
        return BlockCheck("failed", TOOL, str(exc), 1)
    errors = [f for f in analysis.findings if f.severity.blocking]
    if not errors:
        return BlockCheck("passed", TOOL)
    first = errors[0]
    where = _("line %(n)d: ") % {"n": first.line} if first.line else ""
    more = _(" (and %(n)d more)") % {"n": len(errors) - 1} if len(errors) > 1 else ""
    return BlockCheck("failed", TOOL, f"{where}{first.message}{more}", len(errors))
