"""Confluence connector against recorded Confluence Server REST responses.

No Confluence runs here (it is proprietary and needs a licence), so a local HTTP server
answers the real client library's requests (atlassian-python-api, over HTTP) with JSON
fixtures in fixtures/confluence/ that follow the Confluence Server/Data Center REST API
(/rest/api/content listing with version numbers, `_links.next` paging and web UI links;
/rest/api/content/{id}?expand=body.storage with storage-format XHTML). The fixtures are the
documented response shape with invented page content, not captured from a production wiki.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth.models import User

from apps.knowledge import actions
from apps.knowledge.models import IndexJob, Source
from apps.knowledge.search import retrieval
from apps.knowledge.tests.httpfixture import serve

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fetch_from_loopback")]
FIXTURES = Path(__file__).parent / "fixtures" / "confluence"


def route(handler):
    url = urlparse(handler.path)
    query = parse_qs(url.query)
    if url.path == "/rest/api/content" and query.get("spaceKey") == ["OPS"]:
        start = query.get("start", ["0"])[0]
        body = (FIXTURES / f"content_OPS_start{start}.json").read_bytes()
        # The recorded answers name the recorded host; point their links at this server.
        body = body.replace(b"https://wiki.example", f"http://{handler.headers['Host']}".encode())
        return 200, "application/json", body
    if url.path.startswith("/rest/api/content/"):
        path = FIXTURES / f"page_{url.path.rsplit('/', 1)[-1]}.json"
        if path.exists():
            return 200, "application/json", path.read_bytes()
    return (
        404,
        "application/json",
        json.dumps({"statusCode": 404, "message": "No content found"}).encode(),
    )


def test_confluence_space_pages_versions_links_and_body(
    admin_user: User, member: User, outsider: User
) -> None:
    with serve(route) as (base, seen):
        source = actions.save_source(
            admin_user,
            name="wiki-ops",
            type=Source.Type.CONFLUENCE,
            groups=["sre"],
            settings={"url": base, "spaces": ["OPS"]},
            secrets={"token": "pat-secret-123"},
        )
        job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE, job.message
    docs = {d.external_id: d for d in source.documents.all()}
    assert {k: v.version for k, v in docs.items()} == {
        "98311": "7",
        "98315": "3",
        "98320": "12",
    }  # both pages of the listing
    assert docs["98311"].link == f"{base}/display/OPS/Runbook%3A+RabbitMQ+queue+backlog"
    assert docs["98315"].link == f"{base}/pages/viewpage.action?pageId=98315"
    assert all(
        h.headers["Authorization"] == "Bearer pat-secret-123" for h in seen
    )  # PAT, Server/DC style

    hits = retrieval.search(member, "rabbitmqctl list_queues messages_ready", k=3)
    assert hits[0].document_id == "98311" and hits[0].title == "Runbook: RabbitMQ queue backlog"
    assert "list_queues" in hits[0].text and hits[0].version == "7"
    assert retrieval.search(member, "эскалация руководитель смены", k=1)[0].document_id == "98315"
    assert (
        retrieval.search(outsider, "rabbitmqctl list_queues messages_ready", k=10) == []
    )  # sre only


def test_confluence_unknown_space_fails_clearly(admin_user: User) -> None:
    with serve(route) as (base, _):
        source = actions.save_source(
            admin_user,
            name="wiki-x",
            type=Source.Type.CONFLUENCE,
            groups=[],
            settings={"url": base, "spaces": ["NOPE"]},
            secrets={"token": "t"},
        )
        job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.FAILED and "rest/api/content" in job.message
