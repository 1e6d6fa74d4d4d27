"""The Knowledge sources console: admin only, writes audited, secrets write-only, live progress."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.accounts.models import AuditEvent
from apps.knowledge import crypto
from apps.knowledge.ingest.progress import job_progress
from apps.knowledge.models import GlossaryEntry, IndexJob, Source

PAGES = ["knowledge_console:sources", "knowledge_console:source_new", "knowledge_console:glossary"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_console_pages_admin_only(
    admin_client: Client, member_client: Client, outsider_client: Client, client: Client, name: str
) -> None:
    url = reverse(name)
    assert admin_client.get(url).status_code == 200
    assert admin_client.delete(url).status_code == 405
    assert member_client.get(url).status_code == 403
    assert outsider_client.get(url).status_code == 403
    assert client.get(url).status_code == 302  # anonymous: to the login page


@pytest.mark.django_db
def test_actions_are_post_only_and_admin_only(admin_client: Client, member_client: Client) -> None:
    source = Source.objects.create(
        name="s", type=Source.Type.DIRECTORY, settings={"path": "/nonexistent"}
    )
    url = reverse("knowledge_console:source_action", args=[source.pk, "sync"])
    assert admin_client.get(url).status_code == 405
    assert member_client.post(url).status_code == 403
    assert not IndexJob.objects.filter(source=source).exists()


@pytest.mark.django_db
def test_create_directory_source_sync_and_see_progress(
    admin_client: Client, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    (tmp_path / "a.md").write_text("# Runbook A\n\nRestart the exporter when the queue is full.\n")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("knowledge_console:source_new"),
            {
                "name": "Runbooks",
                "type": "directory",
                "path": str(tmp_path),
                "new_groups": "sre, dba",
                "enabled": "on",
            },
        )
    assert response.status_code == 302
    source = Source.objects.get(name="Runbooks")
    assert source.group_names() == ["dba", "sre"]
    job = IndexJob.objects.get(source=source)
    assert job.state == IndexJob.State.DONE and job.chunks_done == 1  # indexed on creation
    page = admin_client.get(reverse("knowledge_console:sources")).content.decode()
    assert "Runbooks" in page and 'style="width: 100%"' in page and "dba" in page
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("knowledge_console:source_action", args=[source.pk, "rebuild"]))
    rebuilt = IndexJob.objects.filter(source=source).first()
    assert rebuilt is not None and rebuilt.kind == "rebuild" and rebuilt.chunks_done == 1
    admin_client.post(reverse("knowledge_console:source_action", args=[source.pk, "pause"]))
    assert Source.objects.get(pk=source.pk).paused
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"source_created", "source_sync", "source_rebuild", "source_paused"} <= actions


@pytest.mark.django_db
def test_bad_directory_is_refused_with_a_clear_message(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("knowledge_console:source_new"),
        {"name": "x", "type": "directory", "path": "/no/such/dir"},
    )
    assert response.status_code == 200
    assert "Укажите каталог, который существует на сервере" in response.content.decode()
    assert not Source.objects.exists()


@pytest.mark.django_db
def test_secrets_are_encrypted_and_never_shown(admin_client: Client) -> None:
    token = "conf-token-5b1e9d"
    admin_client.post(
        reverse("knowledge_console:source_new"),
        {
            "name": "Wiki",
            "type": "confluence",
            "url": "https://wiki.example",
            "spaces": "OPS",
            "username": "bot",
            "token": token,
            "enabled": "on",
        },
    )
    source = Source.objects.get(name="Wiki")
    assert (
        token not in source.secrets_encrypted
        and crypto.decrypt(source.secrets_encrypted)["token"] == token
    )
    edit = reverse("knowledge_console:source_edit", args=[source.pk])
    page = admin_client.get(edit).content.decode()
    assert token not in page
    # Saving the form without a token keeps the stored one.
    admin_client.post(
        edit,
        {
            "name": "Wiki",
            "url": "https://wiki.example",
            "spaces": "OPS",
            "username": "bot2",
            "enabled": "on",
        },
    )
    source.refresh_from_db()
    assert (
        crypto.decrypt(source.secrets_encrypted)["token"] == token
        and source.settings["username"] == "bot2"
    )
    event = AuditEvent.objects.filter(action="source_created").get()
    assert token not in str(event.details)


@pytest.mark.django_db
def test_upload_files_are_indexed_and_a_huge_one_is_an_error(
    admin_client: Client, django_capture_on_commit_callbacks, settings
) -> None:
    settings.KNOWLEDGE_MAX_FILE_MB = 1
    big = SimpleUploadedFile("big.txt", b"word " * 300_000)  # 1.5 MB, over the 1 MB limit
    good = SimpleUploadedFile("notes.md", "# Заметки\n\nПерезапуск экспортера.\n".encode())
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("knowledge_console:source_new"),
            {"name": "Uploads", "type": "upload", "enabled": "on", "upload": [good, big]},
        )
    source = Source.objects.get(name="Uploads")
    job = IndexJob.objects.get(source=source)
    assert job.state == IndexJob.State.DONE
    assert [e["path"] for e in job.errors] == ["big.txt"] and "limit" in job.errors[0]["error"]
    assert source.documents.get(path="notes.md").chunk_count == 1


@pytest.mark.django_db
def test_glossary_editor(admin_client: Client) -> None:
    assert GlossaryEntry.objects.filter(terms__contains="иноды").exists()  # seeded
    url = reverse("knowledge_console:glossary")
    # A line of one term expands nothing: the form names it and saves nothing.
    refused = admin_client.post(url, {"text": "кролик, rabbitmq\nlonely\n"})
    assert refused.status_code == 200 and "lonely" in refused.context["form"].errors["text"][0]
    assert GlossaryEntry.objects.filter(terms__contains="иноды").exists()
    admin_client.post(url, {"text": "кролик, rabbitmq\n\nкролик,rabbitmq\n"})
    assert list(GlossaryEntry.objects.values_list("terms", flat=True)) == ["кролик, rabbitmq"]
    assert AuditEvent.objects.filter(action="glossary_saved").exists()


async def _socket(user: User | None) -> tuple[WebsocketCommunicator, bool]:
    from portal.asgi import application

    headers = [(b"origin", b"http://127.0.0.1:8000")]
    if user is not None:
        client = Client()
        await sync_to_async(client.force_login)(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    comm = WebsocketCommunicator(application, "/ws/knowledge/jobs/", headers=headers)
    connected, _ = await comm.connect(timeout=10)
    return comm, connected


@pytest.mark.django_db(transaction=True)
async def test_progress_socket_pushes_to_admins_only(admin_user: User, member: User) -> None:
    comm, connected = await _socket(None)
    assert not connected
    comm, connected = await _socket(member)
    assert not connected
    comm, connected = await _socket(admin_user)
    assert connected
    source = await Source.objects.acreate(name="live", type="directory", settings={"path": "/tmp"})
    job = await IndexJob.objects.acreate(source=source, state="running", docs_total=10, docs_done=4)
    await sync_to_async(job_progress)(job)
    frame = await comm.receive_json_from(timeout=10)
    assert frame["job"] == job.pk and frame["percent"] == 40 and frame["state"] == "running"
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.both_engines
async def test_progress_from_a_job_thread_reaches_the_page_at_once(admin_user: User) -> None:
    """Under `make run` jobs run in a thread of the web process and the channel layer is in
    memory: a frame sent from that thread must wake the page's socket, not wait for
    something else to."""
    comm, connected = await _socket(admin_user)
    assert connected
    source = await Source.objects.acreate(name="live", type="directory", settings={"path": "/tmp"})
    job = await IndexJob.objects.acreate(source=source, state="running", docs_total=4, docs_done=1)
    thread = threading.Thread(target=job_progress, args=(job,), name="index-job-test")
    started = time.monotonic()
    thread.start()
    frame = await comm.receive_json_from(timeout=3)
    waited = time.monotonic() - started
    thread.join(5)
    assert waited < 1, f"the frame took {waited:.1f} s"
    assert frame["job"] == job.pk and frame["percent"] == 25
    await comm.disconnect()


@pytest.mark.django_db
def test_scheduled_sources_sync_when_due(tmp_path: Path) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from apps.knowledge import tasks

    (tmp_path / "a.md").write_text("# A\n\nScheduled.\n")
    due = Source.objects.create(
        name="due",
        type="directory",
        settings={"path": str(tmp_path)},
        schedule_minutes=30,
        last_synced=timezone.now() - timedelta(hours=1),
    )
    fresh = Source.objects.create(
        name="fresh",
        type="directory",
        settings={"path": str(tmp_path)},
        schedule_minutes=30,
        last_synced=timezone.now() - timedelta(minutes=5),
    )
    manual = Source.objects.create(
        name="manual", type="directory", settings={"path": str(tmp_path)}
    )
    assert tasks.sync_due_sources() == 1
    assert IndexJob.objects.get(source=due).state == IndexJob.State.DONE  # inline in tests
    assert not IndexJob.objects.filter(source__in=[fresh, manual]).exists()
