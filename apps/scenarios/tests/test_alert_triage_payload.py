"""Webhook payloads: Alertmanager v4 as a real Alertmanager 0.25 sent it, Grafana's variant as
its documentation describes it, and every way a body can be wrong, named."""

from __future__ import annotations

import json

import pytest

from apps.scenarios.alert_triage import payload
from apps.scenarios.engine.base import InputError
from apps.scenarios.tests.alert_fixtures import recorded


def test_a_recorded_alertmanager_notification_is_read_whole() -> None:
    n = payload.parse(recorded("alertmanager-0.25-firing.json"))
    assert (n.kind, n.receiver, n.status, n.truncated_alerts) == (
        "alertmanager",
        "opsdesk",
        "firing",
        0,
    )
    assert n.group_key.startswith("{}:{alertname=")
    alert = n.alerts[0]
    assert alert.alertname == "KubePodCrashLooping" and alert.severity == "warning"
    assert alert.fingerprint == "ee3a9d4da281f6c7"  # Alertmanager's own, kept as sent
    assert alert.runbook_url.endswith("runbooks/KubePodCrashLooping.md")
    assert alert.ends_at is None  # Go's zero time means "not ended"
    assert alert.starts_at.tzinfo is not None and alert.starts_at.microsecond == 897642


def test_resolved_and_refired_notifications_keep_the_fingerprint_and_move_the_start() -> None:
    first = payload.parse(recorded("alertmanager-0.25-firing.json")).alerts[0]
    resolved = payload.parse(recorded("alertmanager-0.25-resolved.json")).alerts[0]
    again = payload.parse(recorded("alertmanager-0.25-refired.json")).alerts[0]
    assert resolved.status == "resolved" and resolved.ends_at is not None
    assert resolved.starts_at == first.starts_at
    assert again.fingerprint == first.fingerprint and again.starts_at > resolved.ends_at


def test_grafana_documented_webhook_shape_is_accepted_with_its_links() -> None:
    n = payload.parse(recorded("grafana-webhook-firing.json"))
    assert n.kind == "grafana" and n.title.startswith("[FIRING:1]")
    alert = n.alerts[0]
    assert alert.team == "platform" and alert.fingerprint == "c6eadffa33fcdf37"
    assert alert.extra["silenceURL"].startswith("https://grafana.tgl.internal/alerting/silence")
    assert "value=6.1" in alert.extra["valueString"]


def test_a_missing_fingerprint_is_derived_from_the_labels_stably() -> None:
    body = recorded("alertmanager-0.25-firing.json")
    del body["alerts"][0]["fingerprint"]
    a = payload.parse(body).alerts[0]
    b = payload.parse(json.loads(json.dumps(body))).alerts[0]
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 16


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda b: b.pop("version"), "version", "missing field 'version'"),
        (lambda b: b.update(version="3"), "version", "unsupported webhook version '3'"),
        (lambda b: b.pop("alerts"), "alerts", "missing field 'alerts'"),
        (lambda b: b.pop("receiver"), "receiver", "missing field 'receiver'"),
        (lambda b: b.pop("groupKey"), "groupKey", "missing field 'groupKey'"),
        (lambda b: b.update(status="pending"), "status", "status must be 'firing' or 'resolved'"),
        (lambda b: b.update(alerts={"a": 1}), "alerts", "alerts must be a list"),
        (
            lambda b: b["alerts"][0].pop("labels"),
            "alerts[0].labels",
            "missing field 'alerts[0].labels'",
        ),
        (lambda b: b["alerts"][0].pop("startsAt"), "alerts[0].startsAt", "missing field"),
        (
            lambda b: b["alerts"][0].update(startsAt="yesterday"),
            "alerts[0].startsAt",
            "not an RFC 3339",
        ),
        (
            lambda b: b["alerts"][0]["labels"].update(pod=["x"]),
            "alerts[0].labels.pod",
            "must be a string",
        ),
        (lambda b: b.update(truncatedAlerts=-1), "truncatedAlerts", "whole number"),
    ],
)
def test_a_body_that_is_not_v4_names_what_is_wrong(change, field: str, words: str) -> None:
    body = recorded("alertmanager-0.25-firing.json")
    change(body)
    with pytest.raises(InputError) as caught:
        payload.parse(body)
    assert caught.value.field == field and words in caught.value.message


def test_malformed_json_names_line_and_column() -> None:
    with pytest.raises(InputError) as caught:
        payload.loads('{"version": "4",\n "alerts": [,]}')
    assert caught.value.line == 2 and "column" in caught.value.message
