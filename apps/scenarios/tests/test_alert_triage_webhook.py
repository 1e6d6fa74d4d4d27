"""POST /hooks/alertmanager/: accepted fast and stored whole; refused with the reason named;
one triage per alert and firing period, however often it is sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client

from apps.scenarios.alert_triage.models import Alert, AlertPayload, AlertToken
from apps.scenarios.tests.alert_fixtures import (
    alert_payload,
    one_alert,
    post,
    recorded,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_knowledge(tmp_path: Any, settings: Any) -> None:
    """These tests are about the webhook: an empty index of their own."""
    from apps.knowledge.store import qdrant

    qdrant.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = str(tmp_path / "qdrant")


@pytest.fixture(autouse=True)
def _drained(transactional_db: None) -> Any:
    """Work queued on the worker thread finishes before the test's database is flushed."""
    from apps.scenarios.alert_triage import jobs

    yield
    assert jobs.wait_idle(60), "alert jobs still running after 60 s"


def test_a_recorded_alertmanager_call_is_accepted_stored_and_triaged(
    alert_token: str, inline_jobs: None
) -> None:
    body = recorded("alertmanager-0.25-firing.json")
    response = post(Client(), body, alert_token)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["status"] == "accepted" and answer["alerts"] == 1
    stored = AlertPayload.objects.get(pk=answer["payload"])
    assert stored.body == body and stored.state == AlertPayload.State.PROCESSED
    assert stored.base_url == "http://testserver"
    alert = Alert.objects.get()
    assert (alert.fingerprint, alert.alertname, alert.status) == (
        "ee3a9d4da281f6c7",
        "KubePodCrashLooping",
        "firing",
    )
    assert alert.team == "apps" and alert.triage_state == Alert.TriageState.READY
    assert alert.triage["context"] == {
        "severity": "warning",
        "team": "apps",
        "cluster": "prod-m1",
        "namespace": "orders",
        "pod": "order-api-1",
    }
    assert AlertToken.objects.get().last_used is not None


def test_wrong_method_is_405_and_says_post() -> None:
    response = Client().get("/hooks/alertmanager/")
    assert response.status_code == 405 and response["Allow"] == "POST"


@pytest.mark.parametrize("header", [None, "Bearer oda_not-a-token", "Basic b2RhOng=", "Bearer "])
def test_a_missing_or_wrong_token_is_401_and_nothing_is_stored(header: str | None) -> None:
    client = Client()
    headers = {"Authorization": header} if header is not None else {}
    response = client.post(
        "/hooks/alertmanager/",
        data=json.dumps(recorded("alertmanager-0.25-firing.json")),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "token" in response.json()["error"]
    assert AlertPayload.objects.count() == 0


def test_a_revoked_token_is_refused(alert_token: str, admin_user: Any) -> None:
    from apps.scenarios.alert_triage import tokens

    assert post(Client(), recorded("alertmanager-0.25-firing.json"), alert_token).status_code == 200
    tokens.revoke(AlertToken.objects.get().pk, admin_user)
    assert post(Client(), recorded("alertmanager-0.25-firing.json"), alert_token).status_code == 401


def test_a_10_mb_body_is_413_before_it_is_parsed(alert_token: str) -> None:
    big = b'{"version": "4", "padding": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = post(Client(), big, alert_token)
    assert response.status_code == 413
    assert str(settings.ALERT_WEBHOOK_MAX_BYTES) in response.json()["error"]
    assert AlertPayload.objects.count() == 0


def test_malformed_json_is_400_naming_line_and_column(alert_token: str) -> None:
    response = post(Client(), '{"version": "4",\n "alerts": [}', alert_token)
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "body" and "line 2, column" in body["error"]


def test_deeply_nested_json_is_400_not_a_crash(alert_token: str) -> None:
    for body in ("[" * 100_000, '{"version": "4", "alerts": ' + "[" * 500 + "]" * 500 + "}"):
        response = post(Client(), body, alert_token)
        assert response.status_code == 400
        assert response.json() == {"error": "the JSON nests deeper than 64 levels", "field": "body"}
    assert AlertPayload.objects.count() == 0


@pytest.mark.parametrize("missing", ["version", "alerts", "status", "receiver", "groupKey"])
def test_a_body_that_is_not_v4_is_400_naming_the_missing_field(
    alert_token: str, missing: str
) -> None:
    body = recorded("alertmanager-0.25-firing.json")
    del body[missing]
    response = post(Client(), body, alert_token)
    assert response.status_code == 400
    assert response.json() == {"error": f"missing field '{missing}'", "field": missing}
    assert AlertPayload.objects.count() == 0


def test_a_bad_alert_inside_names_its_index(alert_token: str) -> None:
    body = alert_payload(one_alert(pod="a"), one_alert(pod="b"))
    body["alerts"][1]["startsAt"] = "not a time"
    response = post(Client(), body, alert_token)
    assert response.status_code == 400 and response.json()["field"] == "alerts[1].startsAt"


def test_the_same_alert_100_times_is_one_triage(alert_token: str, inline_jobs: None) -> None:
    from apps.scenarios.alert_triage import actions

    built: list[int] = []
    original = actions.triage

    def counting(alert_id: int) -> None:
        built.append(alert_id)
        original(alert_id)

    actions.triage = counting
    try:
        body = alert_payload(one_alert(pod="order-api-1", namespace="orders"))
        client = Client()
        for _ in range(100):
            assert post(client, body, alert_token).status_code == 200
    finally:
        actions.triage = original
    assert AlertPayload.objects.count() == 100  # every call is kept as received
    alert = Alert.objects.get()
    assert alert.notifications == 100 and alert.status == "firing"
    assert len(built) == 1 and alert.triage_state == Alert.TriageState.READY


def test_resolved_closes_and_a_refire_reopens_the_same_triage(
    alert_token: str, inline_jobs: None
) -> None:
    client = Client()
    started = datetime.now(UTC) - timedelta(minutes=10)
    firing = one_alert(pod="order-api-1", starts=started)
    assert post(client, alert_payload(firing), alert_token).status_code == 200
    resolved = {**firing, "status": "resolved", "endsAt": datetime.now(UTC).isoformat()}
    assert post(client, alert_payload(resolved, status="resolved"), alert_token).status_code == 200
    alert = Alert.objects.get()
    assert alert.status == "resolved" and alert.ends_at is not None
    # The resolve arriving twice (Alertmanager retries) changes nothing.
    post(client, alert_payload(resolved, status="resolved"), alert_token)
    assert Alert.objects.get().status == "resolved"
    again = one_alert(pod="order-api-1", starts=datetime.now(UTC))
    assert post(client, alert_payload(again), alert_token).status_code == 200
    alert = Alert.objects.get()
    assert alert.status == "firing" and alert.refires == 1 and alert.ends_at is None
    assert [e["event"] for e in alert.timeline] == ["fired", "resolved", "reopened"]
    # A late copy of the first firing does not count as another re-fire.
    post(client, alert_payload(firing), alert_token)
    assert Alert.objects.get().refires == 1


def test_a_refire_long_after_the_resolve_is_a_new_triage_that_lists_the_old_one(
    alert_token: str, inline_jobs: None, settings: Any
) -> None:
    settings.ALERT_REOPEN_HOURS = 1
    client = Client()
    old = datetime.now(UTC) - timedelta(days=2)
    first = one_alert(pod="order-api-1", namespace="orders", starts=old)
    post(client, alert_payload(first), alert_token)
    ended = {**first, "status": "resolved", "endsAt": (old + timedelta(hours=1)).isoformat()}
    post(client, alert_payload(ended, status="resolved"), alert_token)
    post(client, alert_payload(one_alert(pod="order-api-1", namespace="orders")), alert_token)
    periods = list(Alert.objects.order_by("starts_at"))
    assert [a.status for a in periods] == ["resolved", "firing"]
    similar = periods[1].triage["similar"]
    assert [s["id"] for s in similar] == [periods[0].pk] and similar[0]["same_context"]


def test_a_resolve_never_seen_firing_is_recorded(alert_token: str, inline_jobs: None) -> None:
    gone = one_alert(pod="x", status="resolved")
    post(Client(), alert_payload(gone, status="resolved"), alert_token)
    alert = Alert.objects.get()
    assert alert.status == "resolved" and alert.timeline[0]["event"] == "resolved"


def test_grafana_webhook_is_accepted(alert_token: str, inline_jobs: None) -> None:
    response = post(Client(), recorded("grafana-webhook-firing.json"), alert_token)
    assert response.status_code == 200
    alert = Alert.objects.get()
    assert alert.source == "grafana" and alert.team == "platform"


def test_alerttoken_command_prints_a_token_the_webhook_accepts(transactional_db: None) -> None:
    db = settings.DATABASES["default"]
    env_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    result = subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "alerttoken", "am-prod"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "DATABASE_URL": env_url},
    )
    assert result.returncode == 0, result.stderr
    raw = result.stdout.strip()
    assert raw.startswith("oda_") and AlertToken.objects.get().name == "am-prod"
    assert post(Client(), recorded("alertmanager-0.25-firing.json"), raw).status_code == 200
    with pytest.raises(CommandError, match="NAME"):
        call_command("alerttoken")


async def _asgi_post(
    body: bytes, token: str, path: str = "/hooks/alertmanager/", **headers: str
) -> Any:
    import httpx

    from portal.asgi import application

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        sent = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers}
        return await client.post(path, content=body, headers=sent)


def test_the_asgi_portal_serves_the_webhook_itself(alert_token: str, inline_jobs: None) -> None:
    import asyncio

    from common.metrics import REQUESTS

    before = REQUESTS.labels("POST", "alert_webhook", "200")._value.get()
    body = json.dumps(recorded("alertmanager-0.25-firing.json")).encode()
    response = asyncio.run(_asgi_post(body, alert_token))
    assert response.status_code == 200 and response.json()["alerts"] == 1
    assert response.headers["content-type"] == "application/json"
    assert AlertPayload.objects.get().base_url == "http://127.0.0.1:8000"
    assert Alert.objects.get().fingerprint == "ee3a9d4da281f6c7"
    assert REQUESTS.labels("POST", "alert_webhook", "200")._value.get() == before + 1
    # Without the trailing slash too (a hand-written receiver URL), never a redirect.
    again = asyncio.run(_asgi_post(body, alert_token, path="/hooks/alertmanager"))
    assert again.status_code == 200


def test_the_asgi_webhook_refuses_a_big_body_unread_and_a_foreign_host(alert_token: str) -> None:
    import asyncio

    big = asyncio.run(_asgi_post(b"{" + b" " * (6 * 1024 * 1024) + b"}", alert_token))
    assert big.status_code == 413 and "at most" in big.json()["error"]
    forged = asyncio.run(_asgi_post(b"{}", alert_token, Host="evil.example"))
    assert forged.status_code == 400 and "ALLOWED_HOSTS" in forged.json()["error"]
    wrong = asyncio.run(_asgi_post(b"{}", "oda_wrong"))
    assert wrong.status_code == 401
    assert AlertPayload.objects.count() == 0
