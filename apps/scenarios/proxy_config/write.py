"""Write: a request in plain words to a config from vetted templates, checked by the real
tool before it is shown. The model takes no part in choosing or filling the template; it
may explain the result afterwards, and any config it writes is checked the same way."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.scenarios.engine.base import Analysis
from apps.scenarios.engine.findings import Severity
from apps.scenarios.proxy_config import bundle as bundles
from apps.scenarios.proxy_config import intent as intents
from apps.scenarios.proxy_config import review, templates


def feature_names() -> dict[str, str]:
    return {
        "load_balancer": _("load balancer"),
        "health_check": _("health checks"),
        "sticky": _("sticky sessions"),
        "tls": _("TLS termination"),
        "redirect_https": _("redirect to HTTPS"),
        "rate_limit": _("rate limiting"),
        "websocket": _("WebSocket proxying"),
        "static": _("static files"),
        "reverse_proxy": _("reverse proxy"),
        "tcp": _("TCP (layer 4) balancing"),
        "stats": _("stats page"),
        "gzip": _("compression"),
    }


def write(request: str, kind: str | None = None) -> Analysis:
    it = intents.detect(request, kind)
    config = templates.render(it)
    name = bundles.MAIN_NAMES[it.kind]
    checked = review.review(
        bundles.Bundle({name: config}, name, it.kind, bundles.DEFAULT_ROOT[it.kind])
    )
    ready = bool(checked.facts.get("checked")) and not checked.failed
    names = feature_names()
    notes: list[str] = []
    if it.kind == "nginx" and it.has("health_check"):
        notes.append(
            _(
                "nginx (open source) checks backends passively: a server is taken out after "
                "failed requests. Active health checks need HAProxy or nginx Plus."
            )
        )
    if it.placeholders:
        what = {"backends": _("backend addresses"), "domain": _("domain name")}
        notes.append(
            _("Replace the placeholders with your values: %(what)s.")
            % {"what": ", ".join(what.get(p, p) for p in it.placeholders)}
        )
    n = len(it.backends) if it.backends_wanted else 0
    product = "nginx" if it.kind == "nginx" else "HAProxy"
    features = ", ".join(names[f] for f in it.features)
    summary = f"{product}: {features}; " + ngettext("%(n)d backend", "%(n)d backends", n) % {"n": n}
    # The generated file's own findings are about the template, not the request; the
    # hostname note is expected for placeholders and says nothing new here.
    findings = [f for f in checked.findings if not f.rule.endswith("hosts-not-resolved")]
    return Analysis(
        findings,
        facts={
            "task": "write",
            "kind": it.kind,
            "file": name,
            "config": config,
            "ready": ready,
            "summary": summary,
            "notes": notes,
            "intent": it.to_dict(),
            "tools": checked.facts.get("tools", []),
            "checked": checked.facts.get("checked"),
        },
        # the vendors' documentation is English: search it by the feature's English name
        grounding=[f"{it.kind} {f.replace('_', ' ')}" for f in it.features][:8],
    )


def blocking_message(analysis: Analysis) -> str:
    for f in analysis.findings:
        if f.severity in (Severity.ERROR, Severity.CRITICAL):
            return f.message
    return ""
