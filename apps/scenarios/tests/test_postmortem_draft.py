"""Post-mortem drafting from raw material: timestamps in every common format and zone merged
into one timeline, milestones and durations, action items, chat exports as Slack and
Mattermost write them, alert triage records, and bad input named by its line."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from apps.scenarios.alert_triage.models import Alert
from apps.scenarios.engine import registry
from apps.scenarios.engine.base import InputError
from apps.scenarios.models import Run

DATA = Path(__file__).parent / "data" / "postmortem"
TIMELINE = """2026-03-05
13:58 deploy of payments v2.14 started
14:02 impact started: 5xx on /pay
14:06 alert PaymentsHighErrorRate fired
14:09 @ivan ack, investigating
14:25 rolled back to v2.13, error rate down
  the rollback took 4 minutes
14:40 resolved
14:45 TODO @ivan add a canary for payments до 2026-03-20
14:46 нужно добавить алерт на latency
"""


def analyze(text: str, **params: Any) -> dict[str, Any]:
    return registry.get("postmortem").analyze(text, params).to_dict()


def at(result: dict[str, Any], n: int) -> str:
    return str(result["timeline"][n - 1]["at"])


def texts(result: dict[str, Any]) -> list[str]:
    return [e["text"] for e in result["timeline"]]


def test_a_plain_timeline_gives_milestones_durations_and_action_items() -> None:
    result = analyze(TIMELINE, timezone="Europe/Moscow")
    assert at(result, 1) == "2026-03-05T10:58:00Z"  # Moscow is UTC+3
    assert result["durations"] == {
        "time_to_detect": 4 * 60,  # 14:02 → 14:06
        "time_to_acknowledge": 3 * 60,  # 14:06 → 14:09
        "time_to_mitigate": 23 * 60,  # 14:02 → 14:25
        "time_to_resolve": 38 * 60,  # 14:02 → 14:40
    }
    assert {k: v["entry"] for k, v in result["milestones"].items()} == {
        "started": 2,
        "first_alert": 3,
        "acknowledged": 4,
        "mitigated": 5,
        "resolved": 6,
    }
    # The indented line continues the rollback entry.
    assert texts(result)[4] == "rolled back to v2.13, error rate down the rollback took 4 minutes"
    items = result["action_items"]
    assert [(i["owner"], i["due"]) for i in items] == [("@ivan", "2026-03-20"), ("", "")]
    assert [f["rule"] for f in result["findings"]][0] == "postmortem.action-item-without-owner"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2026-03-05T14:02:11Z alert fired", "2026-03-05T14:02:11Z"),
        ("2026-03-05T14:02:11.250+03:00 alert fired", "2026-03-05T11:02:11.250000Z"),
        ("2026-03-05 14:02:11,123 ERROR alert fired", "2026-03-05T11:02:11.123000Z"),
        ("2026-03-05 14:02 MSK alert fired", "2026-03-05T11:02:00Z"),
        ("2026-03-05 14:02 -0500 alert fired", "2026-03-05T19:02:00Z"),
        ("2026/03/05 14:02:11 [error] 31#31: upstream timed out", "2026-03-05T11:02:11Z"),
        ("05.03.2026 14:02 сработал алерт", "2026-03-05T11:02:00Z"),
        ("Thu, 05 Mar 2026 14:02:11 +0000 alert fired", "2026-03-05T14:02:11Z"),
        ("Mar  5 14:02:11 web-1 kernel: oom-killer", "2026-03-05T11:02:11Z"),
        ("I0305 14:02:11.123456 1 controller.go:42] sync failed", "2026-03-05T11:02:11.123456Z"),
        (
            '10.0.0.1 - - [05/Mar/2026:14:02:11 +0300] "GET /pay HTTP/1.1" 502 157',
            "2026-03-05T11:02:11Z",
        ),
        ("- 14:02 alert fired", "2026-03-05T11:02:00Z"),
        ("[14:02:30] alert fired", "2026-03-05T11:02:30Z"),
        ("| 14:02 | alert fired |", "2026-03-05T11:02:00Z"),
        ("14:02 UTC alert fired", "2026-03-05T14:02:00Z"),
    ],
)
def test_common_timestamp_formats_are_read_and_normalised_to_utc(line: str, expected: str) -> None:
    result = analyze(line, timezone="Europe/Moscow", date="2026-03-05")
    assert at(result, 1) == expected
    assert result["timeline"][0]["text"]


def test_a_clf_line_keeps_the_request_as_its_text() -> None:
    line = '10.0.0.1 - - [05/Mar/2026:14:02:11 +0300] "GET /pay HTTP/1.1" 502 157'
    assert texts(analyze(line))[0] == '10.0.0.1 - - "GET /pay HTTP/1.1" 502 157'


def test_times_roll_over_midnight_and_dates_come_from_date_lines() -> None:
    text = "## 2026-03-05\n23:50 impact started\n23:58 alert fired\n00:10 resolved\n"
    result = analyze(text, timezone="UTC")
    assert [at(result, n) for n in (1, 2, 3)] == [
        "2026-03-05T23:50:00Z",
        "2026-03-05T23:58:00Z",
        "2026-03-06T00:10:00Z",
    ]
    assert result["durations"]["time_to_resolve"] == 20 * 60
    # A slightly out-of-order line is not a new day.
    near = analyze("2026-03-05\n14:05 b\n14:03 a\n", timezone="UTC")
    assert [at(near, 1), at(near, 2)] == ["2026-03-05T14:03:00Z", "2026-03-05T14:05:00Z"]


def test_the_same_event_in_two_zones_is_one_entry_in_order() -> None:
    text = "2026-03-05T14:06:00+03:00 alert fired\n2026-03-05T11:02:00Z impact started\n"
    chat = "2026-03-05 11:06 UTC alert fired\n"
    result = analyze(text, attachments=[{"name": "notes.txt", "text": chat}])
    assert texts(result) == ["impact started", "alert fired"]
    assert result["durations"]["time_to_detect"] == 240


def test_csv_with_russian_headers_and_a_milestone_column() -> None:
    csv_text = (
        "Время;Событие;Кто;Этап\n"
        "05.03.2026 14:02;Ошибки 5xx на /pay;;начало\n"
        "05.03.2026 14:07;Дежурный получил пейдж;olga;alert\n"
        "05.03.2026 14:08;Принято в работу;olga;ack\n"
        "05.03.2026 14:20;Переключили трафик на резерв;ivan;mitigated\n"
        "05.03.2026 14:50;Всё штатно;ivan;resolved\n"
    )
    result = analyze(csv_text, timezone="Europe/Moscow")
    assert result["durations"] == {
        "time_to_detect": 300,
        "time_to_acknowledge": 60,
        "time_to_mitigate": 18 * 60,
        "time_to_resolve": 48 * 60,
    }
    assert result["timeline"][1]["author"] == "olga"
    assert result["milestones"]["resolved"]["how"] == "tagged"


def test_csv_with_separate_date_and_time_columns() -> None:
    csv_text = "date,time,event\n2026-03-05,14:02,impact started\n2026-03-05,14:10,alert fired\n"
    result = analyze(csv_text, timezone="UTC")
    assert [at(result, 1), at(result, 2)] == ["2026-03-05T14:02:00Z", "2026-03-05T14:10:00Z"]


def test_a_csv_row_without_a_timestamp_names_its_line() -> None:
    csv_text = "time,event\n2026-03-05 14:02,impact started\nsoon,alert fired\n"
    with pytest.raises(InputError) as err, translation.override("en"):
        analyze(csv_text)
    assert str(err.value) == "line 3: no timestamp (expected ISO 8601, HH:MM or a chat export)"


def test_slack_export_is_read_with_real_names_and_without_joins() -> None:
    result = analyze("", attachments=[{"name": "slack.json", "text": _data("slack_incident.json")}])
    assert [(e["author"], e["source"]) for e in result["timeline"]] == [
        ("Olga Petrova", "slack"),
        ("Ivan Sidorov", "slack"),
        ("Ivan Sidorov", "slack"),
    ]
    assert texts(result)[0] == "@ivan payments returns 502, looking into it"
    assert texts(result)[1] == "rolled back payments to v2.13 & error rate is dropping"
    assert at(result, 1) == "2026-03-05T11:05:00.000100Z"
    assert result["milestones"]["mitigated"]["entry"] == 2
    assert result["action_items"][0]["owner"] == "@ivan"
    assert result["action_items"][0]["due"] == "2026-03-20"


def test_mattermost_bulk_export_with_replies() -> None:
    result = analyze(_data("mattermost_bulk.jsonl"))
    assert [e["author"] for e in result["timeline"]] == ["olga", "ivan", "ivan", "olga"]
    assert result["milestones"]["first_alert"]["entry"] == 1
    assert result["milestones"]["acknowledged"]["entry"] == 2
    assert result["milestones"]["resolved"]["entry"] == 3
    assert result["durations"]["time_to_acknowledge"] == 120
    assert result["action_items"][0]["due"] == "25.03.2026"
    assert result["action_items"][0]["owner"] == "@olga"


def test_mattermost_posts_from_the_api_skip_system_messages() -> None:
    result = analyze(_data("mattermost_posts.json"))
    assert texts(result) == ["PaymentsHighErrorRate fired", "ack"]
    assert result["timeline"][1]["author"] == "ivan-bot"
    assert result["durations"]["time_to_acknowledge"] == 240


def test_dateless_times_take_the_date_of_the_chat_export() -> None:
    result = analyze(
        "14:02 impact started\n",
        timezone="Europe/Moscow",
        attachments=[{"name": "mm.jsonl", "text": _data("mattermost_bulk.jsonl")}],
    )
    assert at(result, 1) == "2026-03-05T11:02:00Z"
    assert result["durations"]["time_to_detect"] == 240
    assert result["inputs"] == {"timeline": 1, "mattermost": 4}


@pytest.mark.django_db
def test_alert_triage_records_give_the_first_alert_and_the_resolution() -> None:
    first = _alert("PaymentsHighErrorRate", "2026-03-05T11:06:00Z", "2026-03-05T11:41:00Z")
    second = _alert("PaymentsLatencyHigh", "2026-03-05T11:08:00Z", "2026-03-05T11:44:00Z")
    text = "2026-03-05 14:02 impact started\n2026-03-05 14:10 ack\n2026-03-05 14:25 откатили\n"
    result = analyze(text, timezone="Europe/Moscow", alerts=[first.pk, second.pk])
    assert result["milestones"]["first_alert"]["how"] == "tagged"
    assert "PaymentsHighErrorRate (service=payments)" in result["milestones"]["first_alert"]["text"]
    # No line says resolved: the last of the incident's alerts resolving closes it.
    assert result["milestones"]["resolved"]["how"] == "alerts"
    assert result["durations"] == {
        "time_to_detect": 240,
        "time_to_acknowledge": 240,
        "time_to_mitigate": 23 * 60,
        "time_to_resolve": 42 * 60,
    }
    with pytest.raises(InputError) as err:
        analyze(text, alerts=[first.pk, 999999])
    assert "#999999" in str(err.value) and err.value.field == "alerts"


def test_explicit_tags_win_and_negated_words_do_not_count() -> None:
    text = (
        "2026-03-05 10:00 impact started\n"
        "2026-03-05 10:05 alert fired\n"
        "2026-03-05 10:20 still not resolved, waiting for the vendor\n"
        "2026-03-05 10:30 vendor patched the LB [resolved]\n"
        "2026-03-05 10:40 resolved the ticket in Jira\n"
    )
    result = analyze(text, timezone="UTC")
    assert result["milestones"]["resolved"]["entry"] == 4
    assert result["milestones"]["resolved"]["how"] == "tagged"


def test_missing_milestones_are_warnings_and_durations_are_null() -> None:
    result = analyze("2026-03-05 10:00 something odd on the dashboard\n", timezone="UTC")
    assert result["durations"]["time_to_resolve"] is None
    rules = {f["rule"] for f in result["findings"]}
    assert "postmortem.milestone-missing.resolved" in rules
    assert "postmortem.milestone.started" in rules  # the first entry


def test_a_line_without_a_timestamp_is_refused_in_both_languages() -> None:
    text = "2026-03-05 14:00 a\n14:05 b\nno time here\n"
    with pytest.raises(InputError) as err, translation.override("en"):
        analyze(text)
    assert str(err.value) == "line 3: no timestamp (expected ISO 8601, HH:MM or a chat export)"
    assert err.value.line == 3
    with pytest.raises(InputError) as err, translation.override("ru"):
        analyze(text)
    assert err.value.line == 3 and "нет времени" in err.value.message


@pytest.mark.parametrize(
    ("text", "params", "expected"),
    [
        ("14:00 a\n", {}, "a time without a date"),
        ("2026-02-30 14:00 a\n", {}, "an impossible date or time"),
        ("2026-03-05 25:10 a\n", {}, "an impossible date or time"),
        ("2026-03-05 14:00 a\n", {"timezone": "Mars/Olympus"}, "unknown time zone"),
        ("2026-03-05 14:00 a\n", {"date": "05/03"}, "the date must be YYYY-MM-DD"),
        ('[{"ts": "x"}]', {}, "bad 'ts'"),
        ('{"posts": {"a": {"message": "hi"}}}', {}, "has no 'create_at'"),
        ('{"a": 1', {}, "not a chat export"),
        ('{"users": []}', {}, "not a chat export"),
        ('[{"a":' * 100000, {}, "nested too deeply"),
        ("time,event\n", {}, "nothing to draft from"),
        ("   \n\n", {}, "nothing to draft from"),
    ],
)
def test_bad_input_is_refused_with_what_is_wrong(
    text: str, params: dict[str, Any], expected: str
) -> None:
    with pytest.raises(InputError) as err, translation.override("en"):
        analyze(text, **params)
    assert expected in str(err.value)


def test_an_error_in_an_attached_file_names_the_file() -> None:
    bulk = '{"type":"post","post":{"user":"a","message":"x","create_at":1}}\n{oops\n'
    with pytest.raises(InputError) as err, translation.override("en"):
        analyze("2026-03-05 10:00 a\n", attachments=[{"name": "mm.jsonl", "text": bulk}])
    assert str(err.value).startswith("line 2: mm.jsonl: not a chat export")
    assert err.value.field == "attachments"


def test_hostile_input_is_text_only() -> None:
    # Markup, shell and formula text is kept as text (the page escapes it; nothing runs it).
    text = "2026-03-05 10:00 <script>alert(1)</script> $(rm -rf /) =cmd|' /C calc'!A0\n"
    assert texts(analyze(text, timezone="UTC")) == [
        "<script>alert(1)</script> $(rm -rf /) =cmd|' /C calc'!A0"
    ]
    with pytest.raises(InputError):
        analyze("2026-03-05 10:00 a\x00b\n")
    huge = "2026-03-05 10:00 " + "x" * 10000 + "\n"
    assert len(texts(analyze(huge))[0]) == 2000


def test_cli_prints_the_timeline_and_durations_as_json(tmp_path: Path) -> None:
    timeline = tmp_path / "timeline.txt"
    timeline.write_text(TIMELINE)
    result = _manage(
        "analyze",
        "postmortem",
        str(timeline),
        str(DATA / "slack_incident.json"),
        "--timezone",
        "Europe/Moscow",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["durations"]["time_to_detect"] == 240
    assert out["durations"]["time_to_resolve"] == 38 * 60
    assert {e["source"] for e in out["timeline"]} == {"timeline", "slack"}
    moments = [datetime.fromisoformat(e["at"]) for e in out["timeline"]]
    assert moments == sorted(moments)
    bad = tmp_path / "bad.txt"
    bad.write_text("2026-03-05 14:00 a\n14:05 b\nno time here\n")
    refused = _manage("analyze", "postmortem", str(bad), "--json")
    assert refused.returncode == 2
    assert "line 3:" in refused.stderr and refused.stdout == ""


def test_the_page_merges_pasted_lines_with_uploaded_chat_exports(
    member_client: Client, member: Any
) -> None:
    url = reverse("scenarios:page", args=["postmortem"])
    page = member_client.get(url)
    assert page.status_code == 200 and b'name="attachments"' in page.content
    response = member_client.post(
        url,
        {
            "mode": "paste",
            "text": "14:02 impact started\n",
            "timezone": "Europe/Moscow",
            "attachments": [
                SimpleUploadedFile("mm.jsonl", _data("mattermost_bulk.jsonl").encode()),
                SimpleUploadedFile("slack.json", _data("slack_incident.json").encode()),
            ],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    run = Run.objects.get(user=member, scenario="postmortem")
    assert run.facts["durations"]["time_to_detect"] == 240  # 14:02 → the alert in Mattermost
    shown = member_client.get(response["Location"]).content.decode()
    assert 'data-duration="time_to_detect"' in shown and "(240 s)" in shown
    assert 'id="T1"' in shown and "Olga Petrova" in shown


def test_the_page_keeps_the_input_and_names_the_line(member_client: Client) -> None:
    url = reverse("scenarios:page", args=["postmortem"])
    with translation.override("en"):
        response = member_client.post(
            url,
            {"mode": "paste", "text": "2026-03-05 14:00 a\n14:05 b\nno time here\n"},
            HTTP_ACCEPT_LANGUAGE="en",
        )
    body = response.content.decode()
    assert response.status_code == 400
    assert "line 3: no timestamp" in body or "строка 3" in body
    assert "no time here" in body
    assert not Run.objects.filter(scenario="postmortem").exists()


@pytest.mark.django_db
def test_the_http_api_reads_the_timeline(member: Any) -> None:
    from apps.accounts.tokens import create_token

    _, plain = create_token(member, "ci")
    response = Client().post(
        "/api/scenarios/postmortem/analyze",
        data=json.dumps({"text": TIMELINE, "params": {"timezone": "Europe/Moscow"}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {plain}",
    )
    assert response.status_code == 200, response.content
    assert response.json()["durations"]["time_to_acknowledge"] == 180


def _data(name: str) -> str:
    return (DATA / name).read_text()


def _alert(name: str, starts: str, ends: str) -> Alert:
    begin = datetime.fromisoformat(starts)
    end = datetime.fromisoformat(ends)
    return Alert.objects.create(
        fingerprint=name.lower(),
        alertname=name,
        status=Alert.Status.RESOLVED,
        severity="critical",
        labels={"alertname": name, "service": "payments"},
        source="alertmanager",
        starts_at=begin,
        last_starts_at=begin,
        ends_at=end,
        last_received=end,
        timeline=[
            {"at": begin.isoformat(), "event": "fired"},
            {"at": end.isoformat(), "event": "resolved"},
        ],
    )


def _manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "scenario", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
