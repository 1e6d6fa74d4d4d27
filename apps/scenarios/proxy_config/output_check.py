"""The check of config blocks the model writes: the same review the page runs on a pasted
config (the safety refusals, the real tool, the rules), so a block is offered as ready only
when nginx -t or haproxy -c accepts it and nothing in it is an error."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.runner import ToolMissing
from apps.scenarios.proxy_config import bundle as bundles
from apps.scenarios.proxy_config import review

LANGS = {"nginx": "nginx", "haproxy": "haproxy", "haproxy.cfg": "haproxy", "nginx.conf": "nginx"}
GENERIC = {"", "conf", "cfg", "config", "ini", "text", "plaintext"}


@dataclass(frozen=True)
class BlockCheck:
    """The verdict on one block: passed (ready), failed (with the tool's message) or not
    checked (not a proxy config, or the tool is missing)."""

    verdict: str  # passed, failed, unchecked
    tool: str = ""
    message: str = ""


def check_config(code: str, lang: str = "", default_kind: str = "") -> BlockCheck:
    """The verdict on `code`, labelled `lang` by the model ("nginx", "haproxy", or a generic
    label); an unlabelled block is told by content, else taken as `default_kind`."""
    lang = lang.strip().lower()
    kind = LANGS.get(lang)
    if kind is None and lang not in GENERIC:
        return BlockCheck("unchecked")
    if kind is None:
        kind = bundles.detect_kind(code) or (default_kind if default_kind in LANGS else None)
        if kind is None:
            return BlockCheck("unchecked")
    tool = "nginx -t" if kind == "nginx" else "haproxy -c"
    try:
        analysis = review.review(bundles.load(code, kind))
    except InputError as exc:
        return BlockCheck("failed", tool, str(exc))
    except ToolMissing as exc:
        return BlockCheck("unchecked", tool, str(exc))
    errors = [f for f in analysis.findings if f.severity.blocking]
    if errors:
        first = errors[0]
        where = _("line %(n)d: ") % {"n": first.line} if first.line else ""
        return BlockCheck("failed", tool, where + first.message)
    if not analysis.facts.get("checked"):
        return BlockCheck("failed", tool, _("the tool did not accept the config"))
    return BlockCheck("passed", tool)
