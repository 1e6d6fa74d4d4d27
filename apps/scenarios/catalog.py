"""The scenario pages, in the order the portal lists them."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Scenario:
    slug: str
    title: str | Promise
    summary: str | Promise


SCENARIOS: list[Scenario] = [
    Scenario(
        "alert-triage",
        _("Alert triage"),
        _(
            "Alertmanager alerts explained with the matching runbook, posted to Mattermost or Slack."
        ),
    ),
    Scenario(
        "ceph-health",
        _("Ceph health"),
        _("Paste `ceph health detail` or `ceph status`; get causes and safe next steps."),
    ),
    Scenario(
        "otel-pipeline",
        _("Telemetry pipelines"),
        _("Debug OpenTelemetry Collector and Data Prepper pipelines from configs and errors."),
    ),
    Scenario(
        "ansible",
        _("Ansible playbooks"),
        _("Generate a playbook from a task description, or review one for risks."),
    ),
    Scenario(
        "proxy-config",
        _("Nginx and HAProxy"),
        _("Review or write Nginx and HAProxy configuration."),
    ),
    Scenario(
        "change-impact",
        _("Change impact"),
        _("What depends on the service you are about to change, from the services catalog."),
    ),
    Scenario(
        "opensearch-dsl",
        _("OpenSearch queries"),
        _("Plain language to OpenSearch query DSL, checked before you run it."),
    ),
    Scenario(
        "redis-advice",
        _("Redis performance"),
        _("INFO and SLOWLOG output turned into concrete advice."),
    ),
    Scenario(
        "search",
        _("Knowledge search"),
        _("One search over every source you may read, with a cited answer."),
    ),
    Scenario("onboarding", _("Onboarding"), _("A newcomer's guide: access, tools, first deploy.")),
    Scenario(
        "postmortem",
        _("Post-mortem summary"),
        _("A timeline and chat log turned into a post-mortem draft."),
    ),
    Scenario(
        "postmortem-summary",
        _("Post-mortem executive summary"),
        _(
            "A written post-mortem (#12345, a link, Markdown or Confluence) summed up for "
            "managers and neighbouring teams, each sentence citing the report's section."
        ),
    ),
    Scenario(
        "migration",
        _("Migration checklist"),
        _("A step-by-step checklist for a migration, with rollback."),
    ),
]
