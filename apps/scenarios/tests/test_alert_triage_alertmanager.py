"""Through a real Alertmanager (Debian's prometheus-alertmanager with its default template) to
the portal's webhook on a live test server: alerts injected with amtool, then grouped,
resolved and fired again by Alertmanager itself; and a real Prometheus firing a rule."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from apps.scenarios.alert_triage import jobs
from apps.scenarios.alert_triage.models import Alert, AlertPayload
from apps.scenarios.tests.alertmanager_servers import alertmanager, amtool, prometheus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def wait_for[T](
    what: str,
    probe: Callable[[], T | None],
    timeout: float = 45,
    why: Callable[[], str] | None = None,
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout} s" + (f"; {why()}" if why else ""))


@pytest.fixture(autouse=True)
def _drained(transactional_db: None, tmp_path: Path, settings: Any) -> Any:
    from apps.knowledge.store import qdrant

    qdrant.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = str(tmp_path / "qdrant")
    yield
    assert jobs.wait_idle(60)


def test_firing_grouping_resolve_and_refire_through_a_real_alertmanager(
    live_server: Any, alert_token: str, tmp_path: Path
) -> None:
    hook = f"{live_server.url}/hooks/alertmanager/"
    with alertmanager(tmp_path / "am", hook, alert_token) as am:
        common = ["cluster=prod-m1", "namespace=orders", "severity=warning", "team=apps"]
        summary = "--annotation=summary=Pod is crash looping"
        amtool(am, "KubePodCrashLooping", "pod=order-api-1", *common, summary)
        amtool(am, "KubePodCrashLooping", "pod=order-api-2", *common, summary)
        # Both alerts of the group arrive in one notification (group_wait).
        first = wait_for(
            "the grouped notification",
            lambda: AlertPayload.objects.filter(status="firing", alert_count=2).first(),
        )
        assert first.kind == "alertmanager" and first.receiver == "opsdesk"
        assert 'alertname="KubePodCrashLooping"' in first.group_key
        assert wait_for(
            "two firing alerts",
            lambda: Alert.objects.filter(status="firing", triage_state="ready").count() == 2,
        )
        one, two = Alert.objects.order_by("labels__pod")
        assert one.labels["pod"] == "order-api-1" and one.generator_url == ""
        # Resolve one: Alertmanager sends the group again, that alert resolved.
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        amtool(am, "KubePodCrashLooping", "pod=order-api-1", *common, f"--end={now}")
        wait_for("the resolve", lambda: Alert.objects.get(pk=one.pk).status == "resolved")
        assert Alert.objects.get(pk=two.pk).status == "firing"
        # Fire it again: the same triage reopens.
        amtool(am, "KubePodCrashLooping", "pod=order-api-1", *common, summary)
        again = wait_for(
            "the re-fire",
            lambda: Alert.objects.filter(pk=one.pk, status="firing", refires=1).first(),
        )
        assert [e["event"] for e in again.timeline] == ["fired", "resolved", "reopened"]
        assert Alert.objects.count() == 2  # no new triage for either alert


def test_a_rule_of_a_real_prometheus_fires_through_alertmanager_and_is_triaged(
    live_server: Any, alert_token: str, tmp_path: Path, runbook_kb: None
) -> None:
    rules = """groups:
- name: opsdesk-test
  rules:
  - alert: KubePodCrashLooping
    expr: vector(1)
    labels:
      severity: critical
      team: apps
      namespace: orders
    annotations:
      summary: "Pod orders/order-api is crash looping (OOMKilled)"
      runbook_url: "https://git.tgl.internal/sre/knowledge/-/blob/main/runbooks/KubePodCrashLooping.md"
"""
    hook = f"{live_server.url}/hooks/alertmanager/"
    with (
        alertmanager(tmp_path / "am", hook, alert_token) as am,
        prometheus(tmp_path / "prom", am, rules) as prom,
    ):
        alert = wait_for(
            "the rule's alert, triaged",
            lambda: Alert.objects.filter(
                alertname="KubePodCrashLooping", triage_state="ready"
            ).first(),
            timeout=90,
            why=lambda: (
                f"payloads {list(AlertPayload.objects.values_list('status', 'alert_count'))}, "
                f"alerts {list(Alert.objects.values_list('alertname', 'triage_state'))}\n"
                + (tmp_path / "prom" / "prometheus.log").read_text()[-1500:]
                + (tmp_path / "am" / "alertmanager.log").read_text()[-1500:]
            ),
        )
    assert alert.severity == "critical" and alert.team == "apps"
    assert alert.generator_url.startswith(prom + "/graph?")  # links back to the expression
    triage = alert.triage
    assert triage["runbook"]["path"] == "runbooks/KubePodCrashLooping.md"
    assert triage["runbook_how"] == "runbook_url"
    assert "OOMKilled" in triage["causes"][0]["text"]  # the summary's own word ranks it first
    assert triage["steps"][0]["title"] == "Найти под и посмотреть причину последнего завершения"
