"""Messages to Mattermost and Slack. Neither can run here, so a local HTTP server records what
is posted (named so in each test) and the tests check the shapes both document for incoming
webhooks; retries, backoff and failures are real HTTP exchanges with it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from apps.scenarios.alert_triage import crypto, jobs
from apps.scenarios.alert_triage.models import Alert, Delivery, Destination
from apps.scenarios.tests.alert_fixtures import ChatRecorder, alert_payload, one_alert, post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _drained(transactional_db: None, settings: Any) -> Any:
    settings.ALERT_DELIVERY_BACKOFF_SECONDS = 0.2
    settings.PORTAL_URL = "https://opsdesk.tgl.internal"
    yield
    assert jobs.wait_idle(60, include_delayed=True), "alert jobs still queued after 60 s"


def destination(kind: str, url: str, matchers: str = "", **extra: Any) -> Destination:
    return Destination.objects.create(
        name=f"{kind}-{matchers or 'all'}",
        kind=kind,
        url_encrypted=crypto.encrypt(url),
        matchers=matchers,
        **extra,
    )


def storage_alert(**extra: Any) -> dict[str, Any]:
    alert = one_alert("CephOSDNearFull", team="storage", cluster="ceph-m1", **extra)
    alert["labels"]["severity"] = "critical"
    alert["annotations"] = {
        "summary": "OSD osd.31 is above the nearfull ratio",
        "runbook_url": "https://git.tgl.internal/sre/knowledge/-/blob/main/runbooks/CephOSDNearFull.md",
    }
    return alert


def wait_posts(recorder: ChatRecorder, n: int) -> list[dict[str, Any]]:
    assert jobs.wait_idle(60, include_delayed=True)
    assert len(recorder.posts) == n, [p["body"] for p in recorder.posts]
    return recorder.posts


def test_mattermost_message_recorded_by_a_local_server_has_the_documented_shape(
    runbook_kb: None, alert_token: str, chat_recorder: ChatRecorder
) -> None:
    destination(
        "mattermost", chat_recorder.url("/hooks/storage"), "team=storage", channel="storage-oncall"
    )
    destination("mattermost", chat_recorder.url("/hooks/apps"), "team=apps")
    assert post(Client(), alert_payload(storage_alert()), alert_token).status_code == 200
    [sent] = wait_posts(chat_recorder, 1)
    assert sent["path"] == "/hooks/storage"  # routed by team=storage only
    assert sent["headers"]["Content-Type"] == "application/json"
    body = sent["body"]
    assert (
        set(body) == {"username", "text", "attachments", "channel"}
        and body["channel"] == "storage-oncall"
    )
    assert body["text"].startswith("**[") and "CephOSDNearFull" in body["text"]
    [att] = body["attachments"]
    assert set(att) == {"fallback", "color", "title", "title_link", "text", "footer"}
    alert = Alert.objects.get()
    assert att["title_link"] == f"https://opsdesk.tgl.internal/scenarios/alert-triage/{alert.pk}/"
    assert re.fullmatch(r"#[0-9a-f]{6}", att["color"])
    assert "OSD osd.31 is above the nearfull ratio" in att["text"]
    assert "`cluster=ceph-m1`" in att["text"]
    # The triage travels with it: steps quoted from the runbook, the post-mortem by name.
    assert "ceph df detail" in att["text"] or "Диагностика" in att["text"] or "**" in att["text"]
    assert "Пост-мортем: Ceph ceph-m1" in att["text"]
    assert (
        "(https://git.tgl.internal/sre/knowledge/-/blob/main/runbooks/CephOSDNearFull.md)"
        in att["footer"]
    )
    assert Delivery.objects.get().state == Delivery.State.SENT


def test_slack_message_recorded_by_a_local_server_has_the_documented_block_kit_shape(
    runbook_kb: None, alert_token: str, chat_recorder: ChatRecorder, settings: Any
) -> None:
    settings.ALERT_TRIAGE_LANGUAGE = "en"
    destination(
        "slack", chat_recorder.url("/services/T000/B000/XXXX"), 'severity=~"critical|error"'
    )
    post(Client(), alert_payload(storage_alert()), alert_token)
    [sent] = wait_posts(chat_recorder, 1)
    body = sent["body"]
    assert set(body) == {"text", "blocks"} and body["text"].startswith("[FIRING] CephOSDNearFull")
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds[0] == "header" and kinds[-1] == "actions" and "section" in kinds
    header = body["blocks"][0]["text"]
    assert header["type"] == "plain_text" and len(header["text"]) <= 150
    for block in body["blocks"]:
        if block["type"] == "section":
            assert block["text"]["type"] == "mrkdwn" and len(block["text"]["text"]) <= 3000
    buttons = body["blocks"][-1]["elements"]
    assert all(b["type"] == "button" and b["text"]["type"] == "plain_text" for b in buttons)
    alert = Alert.objects.get()
    assert buttons[0]["url"] == f"https://opsdesk.tgl.internal/scenarios/alert-triage/{alert.pk}/"
    assert buttons[0]["text"]["text"] == "Open the triage"
    assert any(
        "Probable causes" in b["text"]["text"] for b in body["blocks"] if b["type"] == "section"
    )


def test_resolve_is_posted_where_the_firing_went_and_only_if_wanted(
    alert_token: str, chat_recorder: ChatRecorder
) -> None:
    destination("mattermost", chat_recorder.url("/hooks/a"), "team=storage")
    destination("slack", chat_recorder.url("/hooks/b"), "team=storage", send_resolved=False)
    alert = storage_alert()
    post(Client(), alert_payload(alert), alert_token)
    wait_posts(chat_recorder, 2)
    resolved = alert | {"status": "resolved", "endsAt": "2030-01-01T00:00:00Z"}
    post(Client(), alert_payload(resolved, status="resolved"), alert_token)
    posts = wait_posts(chat_recorder, 3)
    assert posts[-1]["path"] == "/hooks/a" and "[РЕШЕНО]" in posts[-1]["body"]["text"]


def test_failures_are_retried_with_growing_backoff_until_delivered(
    alert_token: str, chat_recorder: ChatRecorder
) -> None:
    chat_recorder.script = [(500, {}), (502, {}), (429, {"Retry-After": "1"})]
    destination("mattermost", chat_recorder.url("/hooks/flaky"))
    post(Client(), alert_payload(storage_alert()), alert_token)
    posts = wait_posts(chat_recorder, 4)
    gaps = [b["at"] - a["at"] for a, b in zip(posts, posts[1:], strict=False)]
    assert gaps[0] >= 0.18 and gaps[1] >= 0.38  # 0.2 s, then 0.4 s
    assert gaps[2] >= 0.95  # Retry-After: 1 honoured
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.SENT and delivery.attempts == 4


def test_a_refused_webhook_fails_at_once_and_shows_in_console_and_metrics(
    alert_token: str, chat_recorder: ChatRecorder, admin_client: Client
) -> None:
    chat_recorder.script = [(404, {})]
    destination("slack", chat_recorder.url("/services/deleted"))
    post(Client(), alert_payload(storage_alert()), alert_token)
    wait_posts(chat_recorder, 1)
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.FAILED and delivery.attempts == 1
    assert delivery.last_status == 404 and "invalid_payload" in delivery.last_error
    console = admin_client.get("/admin-console/scenarios/alert-triage/").content.decode()
    assert 'id="delivery-failures"' in console and "HTTP 404" in console
    metrics = Client().get("/metrics").content.decode()
    assert 'opsdesk_alert_deliveries{destination="slack-all",state="failed"} 1.0' in metrics


def test_an_unreachable_webhook_gives_up_after_the_configured_attempts(
    alert_token: str, settings: Any
) -> None:
    settings.ALERT_DELIVERY_ATTEMPTS = 3
    settings.ALERT_DELIVERY_BACKOFF_SECONDS = 0.05
    destination("mattermost", "http://127.0.0.1:9/hooks/nothing-listens")
    post(Client(), alert_payload(storage_alert()), alert_token)
    assert jobs.wait_idle(60, include_delayed=True)
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.FAILED and delivery.attempts == 3
    assert "ConnectError" in delivery.last_error


def test_a_restricted_runbook_is_not_quoted_in_chat(
    runbook_kb: None, alert_token: str, chat_recorder: ChatRecorder, settings: Any
) -> None:
    settings.ALERT_TRIAGE_GROUPS = ["sre"]
    destination("mattermost", chat_recorder.url("/hooks/all"))
    vault = one_alert("VaultSealed") | {
        "annotations": {"summary": "Vault sealed", "runbook_url": "runbooks/VaultSealed.md"}
    }
    post(Client(), alert_payload(vault), alert_token)
    [sent] = wait_posts(chat_recorder, 1)
    text = sent["body"]["attachments"][0]["text"]
    assert Alert.objects.get().triage["runbook"]["source"] == "SRE runbooks"
    assert "vault-0" not in text and "vault status" not in text
    assert "triage page" in text or "странице" in text
