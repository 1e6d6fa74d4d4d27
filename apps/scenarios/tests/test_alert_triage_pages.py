"""The alerts page, an alert's triage and the console: success, wrong method, who may not,
and what a reader may not read left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.scenarios.alert_triage import actions, payload, tokens
from apps.scenarios.alert_triage.models import Alert, AlertPayload, AlertToken, Destination
from apps.scenarios.tests.alert_fixtures import alert_payload, one_alert

pytestmark = pytest.mark.django_db


def ingest(*alerts: dict[str, Any], status: str = "firing") -> list[Alert]:
    """Through the same path as the webhook, processed in this thread."""
    body = alert_payload(*alerts, status=status)
    row = actions.record_payload(payload.parse(body), body, None, "https://opsdesk.test")
    actions.process(row.pk)
    return list(Alert.objects.order_by("id"))


@pytest.fixture
def firing(inline_jobs: None, tmp_path: Any, settings: Any) -> list[Alert]:
    from apps.knowledge.store import qdrant

    qdrant.close()
    settings.QDRANT_PATH = str(tmp_path / "qdrant")
    return ingest(
        one_alert("KubePodCrashLooping", pod="order-api-1", namespace="orders", team="apps"),
        one_alert("CephOSDNearFull", severity="critical", team="storage", cluster="ceph-m1")
        | {"labels": {"alertname": "CephOSDNearFull", "severity": "critical", "team": "storage"}},
    )


def test_the_list_shows_firing_alerts_with_severity_team_and_place(
    member_client: Client, firing: list[Alert]
) -> None:
    page = member_client.get(reverse("alert_triage:index"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "KubePodCrashLooping" in text and "CephOSDNearFull" in text
    assert "namespace=orders" in text and 'id="firing-total">2<' in text


def test_filters_by_team_severity_state_and_words(
    member_client: Client, firing: list[Alert]
) -> None:
    url = reverse("alert_triage:index")
    only_storage = member_client.get(url, {"team": "storage"}).content.decode()
    assert "CephOSDNearFull" in only_storage and "KubePodCrashLooping" not in only_storage
    critical = member_client.get(url, {"severity": "critical"}).content.decode()
    assert "CephOSDNearFull" in critical and "KubePodCrashLooping" not in critical
    words = member_client.get(url, {"q": "crashloop"}).content.decode()
    assert "KubePodCrashLooping" in words and "CephOSDNearFull" not in words
    assert (
        "KubePodCrashLooping" not in member_client.get(url, {"status": "resolved"}).content.decode()
    )


def test_the_poll_answers_204_until_an_alert_changes(
    member_client: Client, firing: list[Alert]
) -> None:
    url = reverse("alert_triage:index")
    first = member_client.get(url, headers={"HX-Request": "true"})
    version = first.content.decode().split('data-version="')[1].split('"')[0]
    assert (
        member_client.get(url, {"since": version}, headers={"HX-Request": "true"}).status_code
        == 204
    )
    resolved = one_alert(
        "KubePodCrashLooping", status="resolved", pod="order-api-1", namespace="orders", team="apps"
    )
    resolved["startsAt"] = firing[0].starts_at.isoformat()
    ingest(resolved, status="resolved")
    changed = member_client.get(url, {"since": version}, headers={"HX-Request": "true"})
    assert changed.status_code == 200 and 'id="firing-total">1<' in changed.content.decode()


def test_the_triage_page_shows_what_fired_and_its_timeline(
    member_client: Client, firing: list[Alert]
) -> None:
    page = member_client.get(reverse("alert_triage:detail", args=[firing[0].pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "KubePodCrashLooping" in text and "order-api-1" in text
    assert "No runbook for this alert was found" in text or "Runbook" in text


def test_pages_refuse_other_methods(member_client: Client, firing: list[Alert]) -> None:
    assert member_client.post(reverse("alert_triage:index")).status_code == 405
    assert (
        member_client.post(reverse("alert_triage:detail", args=[firing[0].pk])).status_code == 405
    )


def test_anonymous_goes_to_sign_in_and_outsiders_of_viewer_groups_are_refused(
    client: Client,
    outsider_client: Client,
    member_client: Client,
    firing: list[Alert],
    settings: Any,
) -> None:
    page = client.get(reverse("alert_triage:index"))
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]
    settings.ALERT_VIEWER_GROUPS = ["sre"]
    assert outsider_client.get(reverse("alert_triage:index")).status_code == 403
    assert (
        outsider_client.get(reverse("alert_triage:detail", args=[firing[0].pk])).status_code == 403
    )
    assert member_client.get(reverse("alert_triage:index")).status_code == 200  # member is in sre


def test_a_reader_outside_the_sources_groups_does_not_see_what_they_cite(
    runbook_kb: None,
    inline_jobs: None,
    settings: Any,
    member_client: Client,
    outsider_client: Client,
) -> None:
    settings.ALERT_TRIAGE_GROUPS = ["sre"]
    vault = one_alert("VaultSealed") | {
        "annotations": {"summary": "Vault sealed", "runbook_url": "runbooks/VaultSealed.md"}
    }
    alert = ingest(vault)[0]
    assert alert.triage["runbook"]["source"] == "SRE runbooks"
    url = reverse("alert_triage:detail", args=[alert.pk])
    assert "Перезапуск пода vault-0" in member_client.get(url).content.decode()
    hidden = outsider_client.get(url).content.decode()
    assert "Перезапуск пода vault-0" not in hidden and "vault status" not in hidden
    assert "Runbook есть, но он в источнике, который вам недоступен" in hidden
    assert "3 источника ссылок вам недоступны" in hidden  # the runbook and its two causes


# --- console ---------------------------------------------------------------------------------


def test_console_creates_a_token_shown_once_and_revokes_it(admin_client: Client) -> None:
    url = reverse("alert_triage_console:index")
    assert admin_client.get(url).status_code == 200
    made = admin_client.post(reverse("alert_triage_console:token_new"), {"name": "am-prod"})
    assert made.status_code == 200
    raw = made.content.decode().split('<code class="secret">oda_')[1].split("<")[0]
    token = AlertToken.objects.get(name="am-prod")
    assert tokens.check(f"Bearer oda_{raw}") == token.pk
    assert f"oda_{raw}" not in admin_client.get(url).content.decode()  # never shown again
    admin_client.post(reverse("alert_triage_console:token_revoke", args=[token.pk]))
    tokens.forget()
    assert tokens.check(f"Bearer oda_{raw}") is None


def test_console_saves_a_destination_with_its_url_encrypted(admin_client: Client) -> None:
    from apps.scenarios.alert_triage import crypto

    url = "https://mattermost.tgl.internal/hooks/xq7k3c9secretpart"
    saved = admin_client.post(
        reverse("alert_triage_console:destination_new"),
        {
            "name": "storage-oncall",
            "kind": "mattermost",
            "url": url,
            "matchers": 'team="storage"',
            "send_resolved": "on",
            "enabled": "on",
        },
    )
    assert saved.status_code == 302
    dest = Destination.objects.get()
    assert (
        "xq7k3c9secretpart" not in dest.url_encrypted and crypto.decrypt(dest.url_encrypted) == url
    )
    page = admin_client.get(
        reverse("alert_triage_console:destination_edit", args=[dest.pk])
    ).content.decode()
    assert "xq7k3c9secretpart" not in page and "mattermost.tgl.internal" in page
    # Saving without a URL keeps the stored one.
    admin_client.post(
        reverse("alert_triage_console:destination_edit", args=[dest.pk]),
        {
            "name": "storage-oncall",
            "kind": "mattermost",
            "url": "",
            "matchers": "team=storage",
            "enabled": "on",
        },
    )
    assert crypto.decrypt(Destination.objects.get().url_encrypted) == url


def test_console_refuses_a_bad_matcher_and_a_non_http_url(admin_client: Client) -> None:
    bad = admin_client.post(
        reverse("alert_triage_console:destination_new"),
        {"name": "x", "kind": "slack", "url": "file:///etc/passwd", "matchers": 'team=~"("'},
    )
    assert bad.status_code == 200 and Destination.objects.count() == 0
    text = bad.content.decode()
    assert "http(s)://" in text and "bad regular expression" in text


def test_console_is_for_admins_only_and_refuses_wrong_methods(
    member_client: Client, admin_client: Client
) -> None:
    assert member_client.get(reverse("alert_triage_console:index")).status_code == 403
    assert (
        member_client.post(reverse("alert_triage_console:token_new"), {"name": "x"}).status_code
        == 403
    )
    assert admin_client.get(reverse("alert_triage_console:token_new")).status_code == 405
    assert admin_client.post(reverse("alert_triage_console:index")).status_code == 405
    assert AlertToken.objects.count() == 0 and AlertPayload.objects.count() == 0


def test_an_old_alert_of_the_same_name_is_listed_as_similar(firing: list[Alert]) -> None:
    earlier = datetime.now(UTC) - timedelta(days=3)
    old = one_alert("KubePodCrashLooping", pod="order-api-1", namespace="orders", starts=earlier)
    old["labels"]["pod"] = "order-api-0"
    rows = ingest(old)
    newest = rows[0]
    actions.similar(newest)  # the first row is the current period; the old one is earlier
    assert [s.id for s in actions.similar(newest)] == [rows[-1].pk]
