"""A closed incident's post-mortem draft and its summary in chat, once per incident.

When an alert triage incident closes (every alert of its Alertmanager group resolved, or a
user marked it closed), the post-mortem scenario drafts it from the incident's alert
records (each alert's firing periods as triage recorded them: fired, fired again, resolved)
and the incident's own events (opened, closed and by whom), and a short summary is posted
to POSTMORTEM_DESTINATIONS in POSTMORTEM_CHANNEL, the way a new report is announced
(auto.post). The draft is a run of the post-mortem scenario owned by the user who closed
the incident, or by the alert triage service account when its alerts resolved; anyone who
may see the alerts page opens its timeline from the incident and drafts it as their own to
write and publish it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.scenarios.alert_triage.models import Incident
from apps.scenarios.engine import registry
from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.forms import Input
from apps.scenarios.models import Run

log = logging.getLogger(__name__)


def material(incident: Incident) -> tuple[str, dict[str, Any]]:
    """The draft's input: the incident's events as timeline lines, and its alerts."""
    lines = [
        f"{incident.opened.isoformat()} "
        + _("incident opened: %(title)s") % {"title": incident.title()}
    ]
    if incident.closed is not None:
        who = incident.closed_by.get_username() if incident.closed_by else ""
        if incident.closed_how == "user":
            # A person saying it is over is the resolution the timeline records.
            text = _("incident closed by %(user)s") % {"user": who or "?"} + " [resolved]"
        else:
            text = _("incident closed: every alert resolved")
        lines.append(f"{incident.closed.isoformat()} {text}")
    params = {
        "alerts": sorted(incident.alerts.values_list("pk", flat=True)),
        "timezone": "UTC",
        "incident": incident.pk,
    }
    return "\n".join(lines) + "\n", params


def draft_run(incident: Incident, user: Any, explain: bool = True) -> Run:
    """The post-mortem scenario's run of the incident, owned by `user`; with `explain`, the
    model drafts its sections when the owner opens it (drafting.py)."""
    from apps.scenarios.actions import create_run

    scenario = registry.get("postmortem")
    text, params = material(incident)
    analysis = scenario.analyze(text, params)
    item = Input(text=text, origin="paste", name=incident.title(), params=params)
    run = create_run(user, scenario, item, analysis, explain=explain)
    if run.title != incident.title():
        run.title = incident.title()
        run.save(update_fields=["title"])
    return run


def _minutes(seconds: Any) -> str:
    if seconds is None:
        return "—"
    return _("%(n)d min") % {"n": round(int(seconds) / 60)}


def summary(incident: Incident, run: Run) -> str:
    facts = run.facts or {}
    spans = facts.get("durations") or {}
    names = sorted({a.alertname or a.fingerprint for a in incident.alerts.all()})
    how = (
        _("closed by %(user)s") % {"user": incident.closed_by.get_username()}
        if incident.closed_how == "user" and incident.closed_by
        else _("every alert resolved")
    )
    lines = [
        _("Alerts: %(names)s") % {"names": ", ".join(names)[:500]},
        _("Started %(start)s, %(how)s at %(end)s")
        % {
            "start": str(facts.get("started", ""))[:19].replace("T", " "),
            "how": how,
            "end": f"{incident.closed:%Y-%m-%d %H:%M:%S}" if incident.closed else "—",
        },
        _("Time to detect %(detect)s, to resolve %(resolve)s")
        % {
            "detect": _minutes(spans.get("time_to_detect")),
            "resolve": _minutes(spans.get("time_to_resolve")),
        },
        _("A post-mortem draft is ready: impact and root cause are for the team to write."),
    ]
    return "\n".join(lines)


def on_closed(incident_id: int) -> Incident | None:
    """Draft the closed incident's post-mortem and post its summary; once per incident (a
    second call, a retry or a second close, does nothing)."""
    from apps.scenarios.alert_triage.lookup import reader
    from apps.scenarios.postmortem import auto

    claimed = Incident.objects.filter(
        pk=incident_id, state=Incident.State.CLOSED, postmortem_at__isnull=True
    ).update(postmortem_at=timezone.now())
    incident = Incident.objects.filter(pk=incident_id).first()
    if not claimed or incident is None:
        return None
    with translation.override(settings.ALERT_TRIAGE_LANGUAGE):
        try:
            # The service account never opens its run: no model draft is asked for it.
            owner = incident.closed_by
            run = draft_run(incident, owner or reader(), explain=owner is not None)
        except InputError as exc:
            incident.error = exc.message[:2000]
            incident.save(update_fields=["error"])
            log.warning("incident %s: no post-mortem draft: %s", incident.pk, exc.message)
            return incident
        except Exception as exc:  # claimed once: the reason is kept on the incident's page
            log.exception("incident %s: the post-mortem draft failed", incident.pk)
            incident.error = f"{type(exc).__name__}: {exc}"[:2000]
            incident.save(update_fields=["error"])
            return incident
        incident.postmortem_run = run
        incident.summary = summary(incident, run)
        headline = (_("Incident closed: %(title)s") % {"title": incident.title()})[:300]
        first = incident.alerts.order_by("starts_at").first()
        path = reverse("alert_triage:incident", args=[incident.pk]) if first else ""
        link = (settings.PORTAL_URL or "").rstrip("/") + path
        incident.posts = auto.post(headline, incident.summary, link)
    incident.save(update_fields=["postmortem_run", "summary", "posts"])
    return incident
