"""Uploads while the source's index jobs run, on both engines: the `make run` SQLite file has
one writer at a time, and the console must neither fail ("database is locked") nor lose a file.
"""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.knowledge import tasks
from apps.knowledge.models import IndexJob, Source

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.both_engines,
    pytest.mark.timeout(240),
]


def _note(n: int) -> SimpleUploadedFile:
    # Several sections each, so a job spends a while embedding and writing rows.
    body = "\n\n".join(
        f"## Step {s}\n\nOn host node-{n}-{s}, drain the pod, check the kubelet logs and "
        f"restart the exporter number {n * 100 + s} before paging the on-call engineer."
        for s in range(12)
    )
    return SimpleUploadedFile(f"note-{n:02d}.md", f"# Runbook {n}\n\n{body}\n".encode())


def test_ten_quick_uploads_while_jobs_run_are_all_saved_and_indexed(
    admin_client: Client, settings, tmp_path
) -> None:
    # Jobs run in background threads of the web process, as under `make run`.
    settings.KNOWLEDGE_JOBS_INLINE = False
    settings.VAR_DIR = tmp_path  # uploads are stored under it
    response = admin_client.post(
        reverse("knowledge_console:source_new"),
        {"name": "Uploads", "type": "upload", "enabled": "on", "upload": [_note(0)]},
    )
    assert response.status_code == 302, response.content[:500]
    source = Source.objects.get(name="Uploads")
    deadline = time.monotonic() + 60
    running = IndexJob.objects.filter(source=source, state=IndexJob.State.RUNNING)
    while not running.filter(docs_total__gt=0).exists():  # it has listed its files
        assert time.monotonic() < deadline, "the first index job did not start within 60 s"
        time.sleep(0.05)
    url = reverse("knowledge_console:source_edit", args=[source.pk])
    for n in range(1, 10):
        # The test client raises what the view raised: a "database is locked" fails here.
        response = admin_client.post(
            url, {"name": "Uploads", "enabled": "on", "upload": [_note(n)]}
        )
        assert response.status_code == 302, (n, response.content[:500])

    deadline = time.monotonic() + 180
    while IndexJob.objects.filter(source=source, state__in=IndexJob.ACTIVE_STATES).exists():
        assert time.monotonic() < deadline, "index jobs still running after 180 s"
        tasks.wait_for_background(timeout=5)
    jobs = list(IndexJob.objects.filter(source=source).values_list("state", "message"))
    assert all(state == IndexJob.State.DONE for state, _message in jobs), jobs
    indexed = sorted(source.documents.filter(error="").values_list("path", flat=True))
    assert indexed == [f"note-{n:02d}.md" for n in range(10)]
