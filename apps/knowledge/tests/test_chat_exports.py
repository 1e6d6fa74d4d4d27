"""Uploaded chat exports: Slack export archives and Mattermost bulk exports written here in
the formats the two products produce (Slack: channels.json, users.json, <channel>/<day>.json;
Mattermost: `mmctl export create`'s JSON lines), uploaded through the console form, plus
hostile archives."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.knowledge import actions
from apps.knowledge.ingest.connectors.directory import upload_dir
from apps.knowledge.models import IndexJob, Source
from apps.knowledge.search import retrieval

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_var_dir(settings: Any, tmp_path: Path) -> None:
    """Uploads go to VAR_DIR/uploads/<source id>: ids repeat from one test database to the
    next, so each test keeps its uploads in a directory of its own."""
    settings.VAR_DIR = tmp_path / "var"


CHANNELS = [
    {
        "id": "C07OPS0001",
        "name": "ops",
        "created": 1700000000,
        "creator": "U01IVAN",
        "is_archived": False,
        "is_general": False,
        "members": ["U01IVAN", "U02OLGA"],
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "On-call questions", "creator": "U01IVAN", "last_set": 0},
    },  # fmt: skip
]
USERS = [
    {
        "id": "U01IVAN",
        "team_id": "T01",
        "name": "ivan",
        "deleted": False,
        "real_name": "Ivan Petrov",
        "is_bot": False,
        "profile": {"real_name": "Ivan Petrov", "display_name": "ivan"},
    },  # fmt: skip
    {
        "id": "U02OLGA",
        "team_id": "T01",
        "name": "olga",
        "deleted": False,
        "real_name": "Olga Smirnova",
        "is_bot": False,
        "profile": {"real_name": "Olga Smirnova", "display_name": "olga"},
    },  # fmt: skip
    {
        "id": "U03BOT",
        "team_id": "T01",
        "name": "grafana",
        "deleted": False,
        "is_bot": True,
        "profile": {"real_name": "Grafana", "bot_id": "B01"},
    },  # fmt: skip
]


def msg(ts: str, user: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "user": user, "text": text, "ts": ts, "team": "T01", **extra}


DAY1 = [
    msg(
        "1764000000.000100", "U02OLGA", "<@U02OLGA> has joined the channel", subtype="channel_join"
    ),  # fmt: skip
    msg(
        "1764000100.000200",
        "U01IVAN",
        "etcd on master-2 reports &quot;database space exceeded&quot;, how to fix?",
        thread_ts="1764000100.000200",
        reply_count=1,
        replies=[{"user": "U02OLGA", "ts": "1764000200.000300"}],
    ),  # fmt: skip
    msg(
        "1764000200.000300",
        "U02OLGA",
        "Compact and defragment: `etcdctl defrag --cluster` after `etcdctl compact`, then disarm the NOSPACE alarm.",
        thread_ts="1764000100.000200",
        parent_user_id="U01IVAN",
    ),  # fmt: skip
    {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B01",
        "username": "grafana",
        "text": "[FIRING:1] DiskPressure node-7",
        "ts": "1764000300.000400",
    },  # fmt: skip
    msg("1764000400.000500", "U03BOT", "Dashboard snapshot ready"),
]
DAY2 = [
    msg(
        "1764090000.000100",
        "U02OLGA",
        "HAProxy backend payments flaps between UP and DOWN every minute",
        thread_ts="1764090000.000100",
    ),  # fmt: skip
    msg(
        "1764090060.000200",
        "U01IVAN",
        "Health check timeout is 1s while the app answers in 1.5s: raise `timeout check`.",
        thread_ts="1764090000.000100",
    ),  # fmt: skip
]


def slack_zip(
    days: dict[str, list[dict[str, Any]]], extra: dict[str, bytes] | None = None
) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("channels.json", json.dumps(CHANNELS, indent=4))
        z.writestr("users.json", json.dumps(USERS, indent=4))
        z.writestr("integration_logs.json", "[]")
        for name, messages in days.items():
            z.writestr(name, json.dumps(messages, indent=4, ensure_ascii=False))
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return out.getvalue()


MM_EXPORT = [
    {
        "type": "version",
        "version": 1,
        "info": {
            "generator": "mattermost-server",
            "version": "9.11.1",
            "created": "2025-11-25T10:00:00Z",
        },
    },  # fmt: skip
    {
        "type": "team",
        "team": {
            "name": "ops",
            "display_name": "Operations",
            "type": "I",
            "description": "",
            "allow_open_invite": False,
        },
    },  # fmt: skip
    {
        "type": "channel",
        "channel": {
            "team": "ops",
            "name": "k8s",
            "display_name": "Kubernetes",
            "type": "O",
            "header": "",
            "purpose": "",
        },
    },  # fmt: skip
    {
        "type": "user",
        "user": {
            "username": "anna",
            "email": "anna@example.org",
            "auth_service": "",
            "nickname": "",
            "first_name": "Анна",
            "last_name": "Орлова",
            "position": "",
            "roles": "system_user",
            "locale": "ru",
        },
    },  # fmt: skip
    {
        "type": "user",
        "user": {
            "username": "pavel",
            "email": "pavel@example.org",
            "auth_service": "",
            "nickname": "",
            "first_name": "Pavel",
            "last_name": "Sokolov",
            "position": "",
            "roles": "system_user",
            "locale": "en",
        },
    },  # fmt: skip
    {
        "type": "post",
        "post": {
            "team": "ops",
            "channel": "k8s",
            "user": "anna",
            "type": None,
            "message": "Под ingress-nginx перезапускается с OOMKilled после обновления Deckhouse",
            "props": {},
            "create_at": 1764100000000,
            "edit_at": 0,
            "flagged_by": None,
            "replies": [
                {
                    "user": "pavel",
                    "message": "Raise the controller memory limit in the ModuleConfig ingress-nginx to 1Gi.",
                    "create_at": 1764100060000,
                    "edit_at": 0,
                },
                {
                    "user": "pavel",
                    "type": "system_add_to_channel",
                    "message": "anna added to the channel",
                    "create_at": 1764100070000,
                },
            ],
            "reactions": None,
            "attachments": None,
            "is_pinned": False,
        },
    },  # fmt: skip
    {
        "type": "post",
        "post": {
            "team": "ops",
            "channel": "k8s",
            "user": "pavel",
            "type": "system_join_channel",
            "message": "pavel joined the channel.",
            "create_at": 1764100001000,
            "replies": None,
        },
    },  # fmt: skip
    {
        "type": "post",
        "post": {
            "team": "ops",
            "channel": "k8s",
            "user": "pavel",
            "message": "CI deploy finished",
            "props": {"from_webhook": "true"},
            "create_at": 1764100002000,
            "replies": None,
        },
    },  # fmt: skip
    {"type": "direct_channel", "direct_channel": {"members": ["anna", "pavel"], "header": ""}},
    {
        "type": "direct_post",
        "direct_post": {
            "channel_members": ["anna", "pavel"],
            "user": "anna",
            "message": "private salary question",
            "create_at": 1764100100000,
        },
    },  # fmt: skip
]


def jsonl(lines: list[Any]) -> bytes:
    return "\n".join(json.dumps(x, ensure_ascii=False) for x in lines).encode() + b"\n"


def upload(admin_client: Client, capture: Any, name: str, files: list[SimpleUploadedFile], source: Source | None = None, channels: str = "") -> Source:  # fmt: skip
    form = {"name": name, "type": "chat_export", "url": "https://acme.slack.com", "groups": [], "new_groups": "sre", "enabled": "on", "upload": files, "channels": channels}  # fmt: skip
    url = reverse("knowledge_console:source_new")
    if source is not None:
        url = reverse("knowledge_console:source_edit", args=[source.pk])
    with capture(execute=True):
        response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Source.objects.get(name=name)


def last_job(source: Source) -> IndexJob:
    return IndexJob.objects.filter(source=source).order_by("-pk").first()  # type: ignore[return-value]


def test_slack_export_threads_links_and_permissions(
    admin_client: Client, django_capture_on_commit_callbacks: Any, member: User, outsider: User
) -> None:
    data = slack_zip({"ops/2025-11-24.json": DAY1, "ops/2025-11-25.json": DAY2})
    source = upload(admin_client, django_capture_on_commit_callbacks, "slack-ops", [SimpleUploadedFile("slack-export.zip", data)])  # fmt: skip
    job = last_job(source)
    assert job.state == IndexJob.State.DONE and job.errors == [], (job.message, job.errors)
    docs = {d.external_id: d for d in source.documents.all()}
    assert sorted(docs) == ["slack/C07OPS0001/1764000100.000200", "slack/C07OPS0001/1764090000.000100"]  # fmt: skip
    etcd = docs["slack/C07OPS0001/1764000100.000200"]
    assert etcd.link == "https://acme.slack.com/archives/C07OPS0001/p1764000100000200"
    assert etcd.title == '#ops: etcd on master-2 reports "database space exceeded", how to fix?'
    hits = retrieval.search(member, "etcd database space exceeded defrag", k=3)
    assert hits and hits[0].document_id == etcd.external_id and hits[0].link == etcd.link
    assert "Olga Smirnova (@olga)" in hits[0].text and "etcdctl defrag --cluster" in hits[0].text
    everything = " ".join(h.text for h in retrieval.search(member, "FIRING DiskPressure snapshot joined", k=10))  # fmt: skip
    assert (
        "FIRING" not in everything and "snapshot" not in everything and "joined" not in everything
    )
    assert retrieval.search(outsider, "etcd database space exceeded defrag", k=10) == []


def test_mattermost_bulk_export_and_incremental_uploads(
    admin_client: Client, django_capture_on_commit_callbacks: Any, member: User
) -> None:
    first = slack_zip({"ops/2025-11-24.json": DAY1, "ops/2025-11-25.json": DAY2})
    source = upload(admin_client, django_capture_on_commit_callbacks, "chats", [SimpleUploadedFile("slack-1.zip", first), SimpleUploadedFile("mm-export.jsonl", jsonl(MM_EXPORT))])  # fmt: skip
    job = last_job(source)
    assert job.state == IndexJob.State.DONE and job.errors == [], (job.message, job.errors)
    ids = sorted(d.external_id for d in source.documents.all())
    assert ids[0] == "mm/ops/k8s/1764100000000:anna" and len(ids) == 3  # DMs, joins, hooks skipped
    mm = source.documents.get(external_id=ids[0])
    assert mm.link == "https://acme.slack.com/ops/channels/k8s"
    hits = retrieval.search(member, "ingress-nginx OOMKilled memory limit", k=3)
    assert hits[0].document_id == mm.external_id
    assert "Анна Орлова (@anna)" in hits[0].text and "Pavel Sokolov (@pavel)" in hits[0].text
    assert "salary" not in " ".join(h.text for h in retrieval.search(member, "salary question", k=10))  # fmt: skip

    # A newer export uploaded beside the first: one new answer in the HAProxy thread.
    newer = slack_zip({"ops/2025-11-25.json": [*DAY2, msg("1764090500.000300", "U02OLGA", "Confirmed: timeout check 3s fixed the flapping.", thread_ts="1764090000.000100")]})  # fmt: skip
    upload(admin_client, django_capture_on_commit_callbacks, "chats", [SimpleUploadedFile("slack-2.zip", newer)], source)  # fmt: skip
    job = last_job(source)
    assert job.state == IndexJob.State.DONE, job.message
    assert job.docs_total == 3 and job.docs_skipped == 2 and job.docs_done == 3  # one re-indexed
    assert "timeout check 3s fixed" in " ".join(h.text for h in retrieval.search(member, "HAProxy flapping timeout check", k=3))  # fmt: skip

    # The first export removed: the etcd thread was only there, so it leaves the index.
    (upload_dir(source.pk) / "slack-1.zip").unlink()
    job = actions.start_job(None, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE and job.docs_removed == 1
    assert not source.documents.filter(external_id__contains="1764000100").exists()
    hits = retrieval.search(member, "etcd database space exceeded defrag", k=5)
    assert all("etcdctl" not in h.text for h in hits)


def test_hostile_exports_are_reported_by_file_and_line_and_nothing_is_lost(
    admin_client: Client, django_capture_on_commit_callbacks: Any, member: User, settings: Any
) -> None:
    good = slack_zip({"ops/2025-11-24.json": DAY1, "ops/2025-11-25.json": DAY2})
    source = upload(admin_client, django_capture_on_commit_callbacks, "hostile", [SimpleUploadedFile("good.zip", good)])  # fmt: skip
    assert source.documents.count() == 2

    settings.KNOWLEDGE_MAX_FILE_MB = 2
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("channels.json", json.dumps([*CHANNELS, {"id": "C09NET", "name": "net"}]))
        z.writestr("users.json", json.dumps(USERS))
        z.writestr("ops/2025-11-26.json", '[\n  {"type": "message", "ts": "1764200000.1",\n  "text": oops}\n]')  # fmt: skip
        z.writestr("../../../etc/cron.d/evil.json", "[]")
        z.writestr("net/2025-11-26.json", b"[" + b" " * 1_600_000 + b"]")  # 1.5 MB of spaces
        z.writestr(
            "net/2025-11-27.json", b"[" + b'"' + b"x" * 3_000_000 + b'"]'
        )  # inflates past 2 MB
        z.writestr("net/2025-11-28.json", json.dumps([msg("1764300000.000100", "U01IVAN", "BGP session to the core router dropped, check bfd timers", thread_ts="1764300000.000100")]))  # fmt: skip
    bad_lines = jsonl(MM_EXPORT[:5]) + b'{"type": "post", "post": {"team": "ops", \n' + jsonl([{"type": "post", "post": {"team": "ops", "channel": "k8s", "user": "anna", "message": "Ceph PG stuck inactive after OSD removal", "create_at": 1764400000000}}])  # fmt: skip
    source = upload(admin_client, django_capture_on_commit_callbacks, "hostile", [SimpleUploadedFile("bad.zip", out.getvalue()), SimpleUploadedFile("broken.jsonl", bad_lines), SimpleUploadedFile("notes.txt", b"hello")], source)  # fmt: skip
    (upload_dir(source.pk) / "good.zip").unlink()  # and the good export is gone meanwhile
    job = actions.start_job(None, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE, job.message
    errors = {e["path"]: e["error"] for e in job.errors}
    assert errors["bad.zip/ops/2025-11-26.json"] == (
        "bad.zip/ops/2025-11-26.json line 3 column 11: Expecting value"
    )
    assert "outside the archive" in errors["bad.zip/../../../etc/cron.d/evil.json"]
    assert "zip bomb" in errors["bad.zip/net/2025-11-26.json"]
    assert "KNOWLEDGE_MAX_FILE_MB" in errors["bad.zip/net/2025-11-27.json"]
    assert errors["broken.jsonl"] == (
        "broken.jsonl line 6 column 42: Expecting property name enclosed in double quotes"
    )
    assert "not a Slack export" in errors["notes.txt"]
    # What could be read is indexed; what was indexed before stays while errors remain.
    ids = {d.external_id for d in source.documents.filter(error="")}
    assert "slack/C09NET/1764300000.000100" in ids and "mm/ops/k8s/1764400000000:anna" in ids
    assert "slack/C07OPS0001/1764000100.000200" in ids  # from good.zip, deleted meanwhile
    assert not Path("/etc/cron.d/evil.json").exists()
    hits = retrieval.search(member, "BGP session bfd timers", k=3)
    assert hits and "bfd timers" in hits[0].text


def test_an_archive_member_lying_about_its_size_is_refused_by_its_checksum(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    import struct

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("channels.json", json.dumps(CHANNELS))
        z.writestr("users.json", json.dumps(USERS))
        z.writestr("ops/2025-11-24.json", json.dumps(DAY1))
        z.writestr("ops/2025-11-25.json", json.dumps(DAY2))
    data = bytearray(out.getvalue())
    # The last member says it inflates to 100 bytes (local header and central directory).
    struct.pack_into("<I", data, data.rfind(b"PK\x03\x04") + 22, 100)
    struct.pack_into("<I", data, data.rfind(b"PK\x01\x02") + 24, 100)
    files = [SimpleUploadedFile("liar.zip", bytes(data))]
    source = upload(admin_client, django_capture_on_commit_callbacks, "liar", files)
    job = last_job(source)
    assert job.state == IndexJob.State.DONE, job.message
    assert [(e["path"], e["error"]) for e in job.errors] == [
        (
            "liar.zip/ops/2025-11-25.json",
            "liar.zip/ops/2025-11-25.json: Bad CRC-32 for file 'ops/2025-11-25.json'",
        )
    ]
    assert source.documents.filter(error="").count() == 1  # the other day is indexed


def test_private_channels_are_read_only_when_named(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    private = [{"id": "G01SEC", "name": "sec-incidents", "created": 1700000000, "creator": "U01IVAN", "is_archived": False, "members": ["U01IVAN"], "topic": {"value": ""}, "purpose": {"value": ""}}]  # fmt: skip
    secret = [msg("1764000500.000100", "U01IVAN", "Leaked API key rotated for the payments service", thread_ts="1764000500.000100")]  # fmt: skip
    mm = [*MM_EXPORT[:2], {"type": "channel", "channel": {"team": "ops", "name": "hr", "display_name": "HR", "type": "P"}}, {"type": "post", "post": {"team": "ops", "channel": "hr", "user": "anna", "message": "Salary review dates", "create_at": 1764100300000}}]  # fmt: skip
    export = slack_zip(
        {"ops/2025-11-24.json": DAY1, "sec-incidents/2025-11-24.json": secret},
        {"groups.json": json.dumps(private).encode()},
    )
    files = [SimpleUploadedFile("slack.zip", export), SimpleUploadedFile("mm.jsonl", jsonl(mm))]
    source = upload(admin_client, django_capture_on_commit_callbacks, "all-public", files)
    ids = set(source.documents.values_list("external_id", flat=True))
    assert ids == {"slack/C07OPS0001/1764000100.000200"}  # no private channel by default

    named = upload(
        admin_client,
        django_capture_on_commit_callbacks,
        "sec",
        [SimpleUploadedFile("slack.zip", export), SimpleUploadedFile("mm.jsonl", jsonl(mm))],
        channels="sec-incidents\n~hr",
    )
    ids = set(named.documents.values_list("external_id", flat=True))
    assert ids == {"slack/G01SEC/1764000500.000100", "mm/ops/hr/1764100300000:anna"}
