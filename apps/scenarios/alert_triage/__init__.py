"""Alert triage: Alertmanager's and Grafana's webhooks in, a triage per alert out (runbook,
probable causes, first safe steps, similar incidents), on a live page and in Mattermost and
Slack. See docs/alert-triage.md."""

from django.utils.translation import gettext_lazy as _

from apps.accounts import console_nav
from apps.scenarios.alert_triage import delivery, tasks  # noqa: F401  (Celery registers tasks)
from apps.scenarios.alert_triage.scenario import AlertTriage
from apps.scenarios.engine import registry

registry.register(AlertTriage())
console_nav.register(_("Alert triage"), "alert_triage_console:index", order=60)
delivery.register_metrics()
