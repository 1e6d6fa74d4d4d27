"""The alert-triage scenario as the engine runs it: a webhook payload in, one finding per
alert out (`manage.py scenario analyze alert-triage FILE`), each with its triage in data."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from apps.scenarios.alert_triage import payload, triage
from apps.scenarios.engine.base import Analysis, InputError, Scenario, check_size
from apps.scenarios.engine.findings import Finding, Severity

log = logging.getLogger(__name__)


def knowledge_base() -> tuple[triage.Knowledge | None, str]:
    """The knowledge base as the triage reads it, or None and why it cannot be read."""
    from apps.knowledge.store.qdrant import IndexUnavailable
    from apps.scenarios.alert_triage.lookup import KnowledgeBase, reader

    try:
        from apps.knowledge.store import qdrant

        qdrant.client()
    except IndexUnavailable as exc:
        return None, str(exc)
    return KnowledgeBase(reader()), ""


class AlertTriage(Scenario):
    slug = "alert-triage"
    title = _("Alert triage")
    summary = _(
        "Alertmanager alerts explained with the matching runbook, posted to Mattermost or Slack."
    )
    instruction: ClassVar[str] = (
        "Explain this alert triage to the on-call engineer: what fired and where, which of "
        "the listed probable causes the alert's own details point to, and the first safe "
        "steps, citing the runbook sections and post-mortems given. Do not add causes or "
        "commands that are not in the triage."
    )

    def analyze(self, text: str, params: Mapping[str, Any]) -> Analysis:
        check_size(text)
        notification = payload.loads(text)
        if not notification.alerts:
            raise InputError("the payload carries no alerts", field="alerts")
        kb, problem = knowledge_base()
        findings: list[Finding] = []
        triages = []
        grounding: list[str] = []
        for alert in notification.alerts:
            result = triage.build(alert, kb)
            findings += triage.findings(alert, result)
            triages.append(result.to_json())
            grounding += [r for r in (alert.alertname, alert.runbook_url) if r]
        if notification.truncated_alerts:
            findings.append(
                Finding(
                    severity=Severity.WARNING,
                    rule="alert-triage.truncated",
                    message=(
                        f"the sender left out {notification.truncated_alerts} alerts of this "
                        "group (Alertmanager's max_alerts)"
                    ),
                    where="truncatedAlerts",
                    fix="raise max_alerts in the webhook receiver or split the route",
                )
            )
        if problem:
            findings.append(
                Finding(
                    severity=Severity.INFO,
                    rule="alert-triage.knowledge-unavailable",
                    message="the knowledge base could not be read: no runbook or history used",
                    why=problem,
                )
            )
        facts = {
            "receiver": notification.receiver,
            "status": notification.status,
            "group_key": notification.group_key,
            "truncated_alerts": notification.truncated_alerts,
            "source": notification.kind,
            "alerts": triages,
        }
        return Analysis(findings=findings, facts=facts, grounding=list(dict.fromkeys(grounding)))
