"""An alert triage incident (the alerts of one Alertmanager group) that closes, because every
alert resolved or a user marked it closed, gets its post-mortem drafted from the alert
records and a short summary posted, once. Alertmanager's webhook bodies are the recorded
ones the alert triage tests use (tests/data) or built in the same v4 shape; the chat
destinations are a local HTTP server recording the Mattermost and Slack incoming-webhook
payloads (the messengers cannot run here)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.scenarios.alert_triage import crypto, jobs
from apps.scenarios.alert_triage.models import Destination, Incident
from apps.scenarios.models import Run
from apps.scenarios.tests.alert_fixtures import (
    ChatRecorder,
    alert_payload,
    one_alert,
    post,
    recorded,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _drained(transactional_db: None, settings: Any) -> Any:
    settings.PORTAL_URL = "https://opsdesk.tgl.internal"
    yield
    assert jobs.wait_idle(60, include_delayed=True), "alert jobs still queued after 60 s"


@pytest.fixture
def leaders(chat_recorder: ChatRecorder, settings: Any) -> ChatRecorder:
    """The post-mortem channel; its matchers take no alert, so only summaries reach it."""
    for kind in ("mattermost", "slack"):
        Destination.objects.create(
            name=f"leaders-{kind}",
            kind=kind,
            url_encrypted=crypto.encrypt(chat_recorder.url(f"/hooks/{kind}")),
            matchers="team=nobody",
        )
    settings.POSTMORTEM_DESTINATIONS = ["leaders-mattermost", "leaders-slack"]
    settings.POSTMORTEM_CHANNEL = "leadership"
    settings.ALERT_TRIAGE_LANGUAGE = "en"
    return chat_recorder


def _idle() -> None:
    assert jobs.wait_idle(60, include_delayed=True)


def test_recorded_alertmanager_group_resolved_closes_the_incident_and_posts_once(
    alert_token: str, leaders: ChatRecorder
) -> None:
    assert post(Client(), recorded("alertmanager-0.25-firing.json"), alert_token).status_code == 200
    _idle()
    incident = Incident.objects.get()
    assert incident.state == "open" and incident.alerts.count() == 1
    assert incident.title() == "KubePodCrashLooping (cluster=prod-m1)"
    assert leaders.posts == []

    post(Client(), recorded("alertmanager-0.25-resolved.json"), alert_token)
    _idle()
    incident.refresh_from_db()
    assert incident.state == "closed" and incident.closed_how == "resolved"
    run = incident.postmortem_run
    assert run is not None and run.scenario == "postmortem" and run.status == Run.Status.NONE
    assert run.user.username == "alert-triage"  # the service account: nobody closed it
    assert run.facts["durations"]["time_to_resolve"] is not None
    assert [e["source"] for e in run.facts["timeline"]].count("alert") == 2  # fired, resolved
    bodies = {p["path"]: p["body"] for p in leaders.posts}
    assert set(bodies) == {"/hooks/mattermost", "/hooks/slack"}
    mm = bodies["/hooks/mattermost"]
    assert mm["channel"] == "leadership"
    assert "Incident closed: KubePodCrashLooping (cluster=prod-m1)" in mm["text"]
    assert "every alert resolved" in mm["text"] and "Time to detect" in mm["text"]
    assert f"/scenarios/alert-triage/incidents/{incident.pk}/" in mm["text"]
    assert bodies["/hooks/slack"]["blocks"][0]["text"]["text"].startswith("Incident closed")
    assert [p["status"] for p in incident.posts] == [200, 200]

    # Alertmanager repeats the resolved notification: nothing more is drafted or posted.
    post(Client(), recorded("alertmanager-0.25-resolved.json"), alert_token)
    _idle()
    assert len(leaders.posts) == 2 and Run.objects.filter(scenario="postmortem").count() == 1
    # It fires again: a new incident of the same group opens.
    post(Client(), recorded("alertmanager-0.25-refired.json"), alert_token)
    _idle()
    assert Incident.objects.filter(state="open").count() == 1
    assert Incident.objects.count() == 2 and len(leaders.posts) == 2


def test_the_incident_stays_open_until_every_alert_of_the_group_resolved(
    alert_token: str, leaders: ChatRecorder, member_client: Client
) -> None:
    hostile = "<script>alert(1)</script> **bold** <!here>"
    a = one_alert("PaymentsHighErrorRate", pod="pay-1", team="payments")
    b = one_alert("PaymentsHighErrorRate", pod="pay-2", team="payments")
    b["annotations"]["summary"] = hostile
    post(Client(), alert_payload(a, b), alert_token)
    _idle()
    incident = Incident.objects.get()
    assert incident.alerts.count() == 2
    resolved_a = a | {"status": "resolved", "endsAt": "2030-01-01T00:00:00Z"}
    post(Client(), alert_payload(resolved_a, b), alert_token)
    _idle()
    incident.refresh_from_db()
    assert incident.state == "open" and leaders.posts == []
    resolved_b = b | {"status": "resolved", "endsAt": "2030-01-01T00:00:00Z"}
    post(Client(), alert_payload(resolved_a, resolved_b, status="resolved"), alert_token)
    _idle()
    incident.refresh_from_db()
    assert incident.state == "closed" and len(leaders.posts) == 2
    page = member_client.get(reverse("alert_triage:incident", args=[incident.pk]))
    assert page.status_code == 200
    # The alert's text is shown as text on the portal and never as markup in Slack.
    assert b"<script>alert(1)" not in page.content
    slack = next(p for p in leaders.posts if p["path"] == "/hooks/slack")["body"]
    assert "<!here>" not in str(slack) and "<script>" not in str(slack)


def test_a_user_closes_the_incident_once_and_others_draft_it_as_their_own(
    alert_token: str,
    leaders: ChatRecorder,
    member: User,
    member_client: Client,
    admin_client: Client,
    outsider_client: Client,
    settings: Any,
) -> None:
    post(Client(), recorded("alertmanager-0.25-firing.json"), alert_token)
    _idle()
    incident = Incident.objects.get()
    url = reverse("alert_triage:incident-close", args=[incident.pk])
    page = member_client.get(reverse("alert_triage:incident", args=[incident.pk]))
    assert b'id="close-incident"' in page.content
    assert "Закрыть инцидент" in page.content.decode()  # Russian by default
    alert_page = member_client.get(reverse("alert_triage:detail", args=[incident.alerts.get().pk]))
    assert reverse("alert_triage:incident", args=[incident.pk]).encode() in alert_page.content
    assert member_client.get(url).status_code == 405

    settings.ALERT_VIEWER_GROUPS = ["sre"]
    assert outsider_client.post(url).status_code == 403
    assert Incident.objects.get().state == "open"

    assert member_client.post(url).status_code == 302
    _idle()
    incident.refresh_from_db()
    assert incident.state == "closed" and incident.closed_how == "user"
    assert incident.closed_by == member and incident.postmortem_run is not None
    run = incident.postmortem_run
    assert run.user == member and "resolved" in run.facts["milestones"]
    assert run.status == Run.Status.PENDING  # the model drafts it when its owner opens it
    assert len(leaders.posts) == 2 and "closed by member" in leaders.posts[0]["body"]["text"]

    # Closing again, or the alerts resolving afterwards, drafts and posts nothing more.
    member_client.post(url)
    post(Client(), recorded("alertmanager-0.25-resolved.json"), alert_token)
    _idle()
    assert len(leaders.posts) == 2 and Run.objects.filter(scenario="postmortem").count() == 1

    shown = member_client.get(reverse("alert_triage:incident", args=[incident.pk]))
    assert reverse("scenarios:run", args=["postmortem", run.pk]).encode() in shown.content
    # Another engineer drafts it as their own run, to write and publish it.
    response = admin_client.post(reverse("postmortem:incident-draft", args=[incident.pk]))
    assert response.status_code == 302
    mine = Run.objects.filter(scenario="postmortem").exclude(pk=run.pk).get()
    assert response["Location"] == reverse("scenarios:run", args=["postmortem", mine.pk])
    assert mine.facts["durations"] == run.facts["durations"] and mine.status == Run.Status.PENDING
    assert (
        outsider_client.post(reverse("postmortem:incident-draft", args=[incident.pk])).status_code
        == 403
    )


def test_a_closed_incident_whose_job_was_lost_is_drafted_by_the_sweep(
    alert_token: str, leaders: ChatRecorder, settings: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from apps.scenarios.alert_triage import actions

    post(Client(), recorded("alertmanager-0.25-firing.json"), alert_token)
    _idle()
    # Closed, but the worker that was to draft it died before it ran.
    Incident.objects.update(
        state="closed", closed=timezone.now() - timedelta(minutes=5), closed_how="resolved"
    )
    settings.ALERT_JOBS_INLINE = True
    actions.sweep()
    actions.sweep()
    incident = Incident.objects.get()
    assert incident.postmortem_run is not None and len(leaders.posts) == 2
