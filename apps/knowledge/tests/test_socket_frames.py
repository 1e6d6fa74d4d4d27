"""Hostile frames on the index progress socket: an error frame each, the socket stays open."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from apps.knowledge.ingest.progress import job_progress
from apps.knowledge.models import IndexJob, Source
from apps.knowledge.tests.test_console import _socket


@pytest.mark.django_db(transaction=True)
async def test_bad_frames_get_an_error_frame_and_progress_still_arrives(admin_user: User) -> None:
    comm, connected = await _socket(admin_user)
    assert connected
    await comm.send_to(bytes_data=b"\x89PNG\r\n")
    for text in ["not json", "[" * 100_000, '{"a":' * 5_000 + "}" * 5_000, "x" * 70_000]:
        await comm.send_to(text_data=text)
    for _n in range(5):
        frame = await comm.receive_json_from(timeout=10)
        assert frame["type"] == "error" and frame["code"] == "bad_frame", frame
    await comm.send_json_to({"type": "anything"})  # well-formed: ignored, as before
    assert await comm.receive_nothing(timeout=0.5)
    source = await Source.objects.acreate(name="live", type="directory", settings={"path": "/x"})
    job = await IndexJob.objects.acreate(source=source, state="running", docs_total=4, docs_done=1)
    await sync_to_async(job_progress)(job)
    frame = await comm.receive_json_from(timeout=10)
    assert frame["job"] == job.pk and frame["percent"] == 25
    await comm.disconnect()
