"""The alerts page (live list with filters) and one alert's triage.

The list refreshes itself every few seconds with htmx: the poll carries the version it
shows and gets 204 (nothing to swap) until an alert changed, so a wall screen costs one
indexed query per poll. What the triage cites is shown only when the reader may read its
source; otherwise the page says that something was left out.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.roles import is_portal_admin, user_group_names
from apps.knowledge.search.retrieval import readable_source_ids
from apps.scenarios.alert_triage import runbook as rb
from apps.scenarios.alert_triage.models import Alert
from common.http import HtmxHttpRequest

POLL_SECONDS = 3
PAGE_SIZE = 50
SEVERITIES = ("critical", "error", "warning", "info")
WHERE_LABELS = ("cluster", "namespace", "pod", "node", "instance", "service")
EVENTS = {
    "fired": _("fired"),
    "firing": _("fired"),
    "resolved": _("resolved"),
    "reopened": _("fired again"),
}


def can_view(user: Any) -> bool:
    groups = set(getattr(settings, "ALERT_VIEWER_GROUPS", []))
    if not user or not user.is_authenticated:
        return False
    return not groups or is_portal_admin(user) or bool(groups & set(user_group_names(user)))


def _version() -> str:
    latest = Alert.objects.aggregate(updated=Max("updated"), last=Max("id"))
    stamp = latest["updated"].timestamp() if latest["updated"] else 0
    return f"{latest['last'] or 0}-{stamp:.6f}"


def _filters(request: HtmxHttpRequest) -> dict[str, str]:
    get = request.GET
    status = get.get("status", "firing")
    return {
        "status": status if status in ("firing", "resolved", "all") else "firing",
        "severity": get.get("severity", "")[:40],
        "team": get.get("team", "")[:100],
        "q": get.get("q", "").strip()[:200],
    }


@require_GET
def alerts(request: HtmxHttpRequest) -> HttpResponse:
    if not can_view(request.user):
        raise PermissionDenied
    version = _version()
    if request.htmx and request.GET.get("since") == version:
        return HttpResponse(status=204)  # htmx swaps nothing: the list is current
    f = _filters(request)
    rows = Alert.objects.all()
    if f["status"] != "all":
        rows = rows.filter(status=f["status"])
    if f["severity"]:
        rows = rows.filter(severity=f["severity"])
    if f["team"]:
        rows = rows.filter(team=f["team"])
    if f["q"]:
        rows = rows.filter(
            Q(alertname__icontains=f["q"]) | Q(summary__icontains=f["q"]) | Q(fingerprint=f["q"])
        )
    page = Paginator(rows.order_by("-last_starts_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    firing = dict(
        Alert.objects.filter(status=Alert.Status.FIRING)
        .values_list("severity")
        .annotate(n=Count("id"))
        .order_by()
    )
    teams = (
        Alert.objects.exclude(team="").order_by("team").values_list("team", flat=True).distinct()
    )
    wanted = {k: v for k, v in f.items() if v}
    base_query = urlencode(wanted)
    if page.number > 1:
        wanted["page"] = str(page.number)
    items = [
        (row, [(k, row.labels[k]) for k in WHERE_LABELS if row.labels.get(k)])
        for row in page.object_list
    ]
    context = {
        "page": page,
        "items": items,
        "f": f,
        "version": version,
        "poll": POLL_SECONDS,
        "severities": SEVERITIES,
        "teams": list(teams[:200]),
        "by_severity": [(s, firing.get(s, 0)) for s in SEVERITIES],
        "firing_total": sum(firing.values()),
        "query": urlencode(wanted),
        "base_query": base_query,
    }
    template = "scenarios/alert_triage.html#list" if request.htmx else "scenarios/alert_triage.html"
    return render(request, template, context)


def _visible(triage: dict[str, Any], readable: set[int]) -> dict[str, Any]:
    """The triage as this reader may see it: cited items from sources they cannot read are
    removed and counted."""

    def ok(doc: Any) -> bool:
        return bool(doc) and doc.get("source_id") in readable

    runbook = triage.get("runbook")
    causes = [c for c in triage.get("causes") or [] if ok(c.get("doc"))]
    postmortems = [p for p in triage.get("postmortems") or [] if ok(p.get("doc"))]
    hidden = (len(triage.get("causes") or []) - len(causes)) + (
        len(triage.get("postmortems") or []) - len(postmortems)
    )
    shown_runbook = runbook if ok(runbook) else None
    if runbook and not shown_runbook:
        hidden += 1
    for cause in causes:
        cause["why"] = [
            {"kind": r.split(":", 1)[0], "text": r.split(":", 1)[1] if ":" in r else ""}
            for r in cause.get("reasons") or []
        ]
    escalation = triage.get("escalation") if shown_runbook else None
    return {
        **triage,
        "runbook": shown_runbook,
        "runbook_hidden": bool(runbook) and not shown_runbook,
        "causes": causes,
        "steps": triage.get("steps") if shown_runbook else [],
        "fixes": triage.get("fixes") if shown_runbook else [],
        "never": triage.get("never") if shown_runbook else [],
        "escalation_rows": _table(escalation[0]) if escalation else [],
        "escalation_text": escalation[0] if escalation and not _table(escalation[0]) else "",
        "escalation_section": escalation[1] if escalation else "",
        "postmortems": postmortems,
        "hidden": hidden,
    }


def _table(text: str) -> list[list[str]]:
    """A Markdown table's rows (header first), or [] when `text` is not only a table."""
    rows = []
    for line in text.strip().splitlines():
        line = line.strip()
        if not line.startswith("|"):
            return []
        cells = [rb.strip_markdown(c.strip()) for c in line.strip("|").split("|")]
        if set("".join(cells)) <= set("-: "):
            continue
        rows.append(cells)
    return rows


@require_GET
def detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    if not can_view(request.user):
        raise PermissionDenied
    alert = get_object_or_404(Alert, pk=pk)
    version = f"{alert.updated.timestamp():.6f}"
    if request.htmx and request.GET.get("since") == version:
        return HttpResponse(status=204)
    readable = set(readable_source_ids(request.user))
    timeline = [
        (parse_datetime(e.get("at", "")), EVENTS.get(e.get("event", ""), e.get("event", "")))
        for e in reversed(alert.timeline)
    ]
    deliveries = [
        (d, EVENTS.get(d.event, d.event))
        for d in alert.deliveries.select_related("destination")[:20]
    ]
    context = {
        "alert": alert,
        "timeline": timeline,
        "t": _visible(dict(alert.triage or {}), readable),
        "deliveries": deliveries,
        "version": version,
        "poll": POLL_SECONDS,
        "runbook_url_is_link": str(alert.annotations.get("runbook_url", "")).startswith(
            ("http://", "https://")
        ),
    }
    template = (
        "scenarios/alert_triage_detail.html#body"
        if request.htmx
        else "scenarios/alert_triage_detail.html"
    )
    return render(request, template, context)


@require_GET
def incident(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """An incident: its alerts, whether it is closed and how, and its post-mortem draft."""
    from apps.scenarios.alert_triage.models import Incident

    if not can_view(request.user):
        raise PermissionDenied
    row = get_object_or_404(Incident, pk=pk)
    run = row.postmortem_run
    context = {
        "incident": row,
        "alerts": row.alerts.order_by("starts_at"),
        "run": run,
        "owns_run": run is not None and run.user_id == request.user.pk,
        "durations": (run.facts or {}).get("durations", {}) if run else {},
    }
    return render(request, "scenarios/alert_triage_incident.html", context)


@require_POST
def close_incident(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Mark an incident closed: its post-mortem is drafted and its summary posted once."""
    from apps.scenarios.alert_triage import actions
    from apps.scenarios.alert_triage.models import Incident

    if not can_view(request.user):
        raise PermissionDenied
    row = get_object_or_404(Incident, pk=pk)
    if actions.close_by_user(row, request.user):
        messages.success(request, _("The incident is closed; its post-mortem is being drafted."))
    else:
        messages.info(request, _("The incident was closed already."))
    return redirect("alert_triage:incident", pk=row.pk)
