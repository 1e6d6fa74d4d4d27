"""New post-mortems announced in chat when a post-mortem source's sync finds them, and the
weekly digest, posted to a local HTTP server that speaks the Mattermost and Slack incoming
webhook formats (the messengers cannot run here)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.knowledge import actions
from apps.knowledge.models import Source
from apps.scenarios.alert_triage import crypto
from apps.scenarios.alert_triage.models import Destination
from apps.scenarios.models import Announcement, Digest
from apps.scenarios.postmortem import auto
from apps.scenarios.tests.alert_fixtures import ChatRecorder

DEMO = Path(__file__).resolve().parents[3] / "samples" / "knowledge" / "postmortems"


@pytest.fixture
def index_here(tmp_path: Path, settings: Any) -> Iterator[None]:
    from apps.knowledge.store import qdrant

    qdrant.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = str(tmp_path / "qdrant")
    settings.KNOWLEDGE_JOBS_INLINE = True
    settings.VAR_DIR = tmp_path / "var"
    yield
    qdrant.close()


@pytest.fixture
def channels(chat_recorder: ChatRecorder, settings: Any, db: None) -> ChatRecorder:
    for kind in ("mattermost", "slack"):
        Destination.objects.create(
            name=f"leaders-{kind}",
            kind=kind,
            url_encrypted=crypto.encrypt(chat_recorder.url(f"/hooks/{kind}")),
        )
    settings.POSTMORTEM_DESTINATIONS = ["leaders-mattermost", "leaders-slack"]
    settings.POSTMORTEM_CHANNEL = "leadership"
    settings.ALERT_TRIAGE_LANGUAGE = "en"
    return chat_recorder


def _source(admin: User, folder: Path, name: str, groups: list[str], tags: list[str]) -> Source:
    source = actions.save_source(
        admin,
        name=name,
        type=Source.Type.DIRECTORY,
        settings={"path": str(folder)},
        groups=groups,
        tags=tags,
    )
    actions.start_job(admin, source, wait=True)
    return source


@pytest.mark.django_db
def test_a_new_post_mortem_found_by_sync_is_posted_to_mattermost_and_slack_local_http_server(
    index_here: None, channels: ChatRecorder, admin_user: User, tmp_path: Path
) -> None:
    folder = tmp_path / "pm"
    folder.mkdir()
    shutil.copy(DEMO / "2024-11-ceph-nearfull.md", folder / "a.md")
    source = _source(admin_user, folder, "Post-mortems", [], ["postmortems"])
    # What was there when the source was first synced is announced too: it is new to us.
    assert len(channels.posts) == 2
    shutil.copy(DEMO / "2025-02-rabbitmq-partition-duplicate-sms.md", folder / "b.md")
    actions.start_job(admin_user, source, wait=True)
    assert len(channels.posts) == 4
    mattermost = next(p for p in channels.posts[2:] if p["path"] == "/hooks/mattermost")
    slack = next(p for p in channels.posts[2:] if p["path"] == "/hooks/slack")
    assert mattermost["body"]["channel"] == "leadership"
    assert mattermost["body"]["text"].startswith("**New post-mortem: Пост-мортем: разделение")
    assert "**Влияние:**" in mattermost["body"]["text"]
    assert "/scenarios/postmortem/summaries/" in mattermost["body"]["text"]
    assert slack["body"]["blocks"][0]["type"] == "header"
    assert "*Влияние:*" in slack["body"]["blocks"][1]["text"]["text"]
    row = Announcement.objects.get(external_id="b.md")
    assert row.one_line.startswith("Пост-мортем: разделение") and "rmq-core" in row.one_line
    assert [p["status"] for p in row.posts] == [200, 200]
    # A re-sync announces nothing again.
    (folder / "b.md").write_text((folder / "b.md").read_text() + "\nupdated\n")
    actions.start_job(admin_user, source, wait=True)
    assert len(channels.posts) == 4


@pytest.mark.django_db
def test_restricted_and_untagged_sources_do_not_leak_into_the_channel(
    index_here: None, channels: ChatRecorder, admin_user: User, tmp_path: Path
) -> None:
    secret, other = tmp_path / "secret", tmp_path / "other"
    secret.mkdir()
    other.mkdir()
    shutil.copy(DEMO / "2024-11-ceph-nearfull.md", secret / "a.md")
    shutil.copy(DEMO / "2024-11-ceph-nearfull.md", other / "a.md")
    _source(admin_user, other, "Runbooks", [], ["runbooks"])
    assert channels.posts == []
    _source(admin_user, secret, "SRE post-mortems", ["sre"], ["postmortems"])
    text = channels.posts[0]["body"]["text"]
    assert "restricted access" in text and "Влияние" not in text and "osd.22" not in text


@pytest.mark.django_db
def test_a_failing_webhook_is_kept_on_the_page_local_http_server(
    index_here: None,
    channels: ChatRecorder,
    admin_user: User,
    tmp_path: Path,
    member_client: Client,
    outsider_client: Client,
) -> None:
    channels.script = [(404, {}), (200, {})]
    folder = tmp_path / "pm"
    folder.mkdir()
    shutil.copy(DEMO / "2024-11-ceph-nearfull.md", folder / "a.md")
    _source(admin_user, folder, "Post-mortems", ["sre"], ["postmortems"])
    page = member_client.get(reverse("postmortem:summaries")).content.decode()
    assert "Ceph" in page and "HTTP 404" in page
    assert "Ceph" not in outsider_client.get(reverse("postmortem:summaries")).content.decode()


@pytest.mark.django_db
def test_the_weekly_digest_lists_the_week_once_local_http_server(
    index_here: None, channels: ChatRecorder, admin_user: User, tmp_path: Path
) -> None:
    folder = tmp_path / "pm"
    folder.mkdir()
    for path in DEMO.glob("20*.md"):
        shutil.copy(path, folder / path.name)
    _source(admin_user, folder, "Post-mortems", [], ["postmortems"])
    before = len(channels.posts)
    digest = auto.weekly_digest(force=True)
    assert digest is not None and digest.text.count("\n- ") + 1 == 2
    posted = channels.posts[before:]
    assert len(posted) == 2
    mattermost = next(p for p in posted if p["path"] == "/hooks/mattermost")
    assert mattermost["body"]["text"].startswith("**Post-mortems of the week (2)**")
    assert auto.weekly_digest(force=True) is None and Digest.objects.count() == 1
