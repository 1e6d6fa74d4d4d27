"""Publishing a post-mortem: the template filled from the drafted timeline (Russian and
English defaults, or the admin's own), edited by the author, then a Markdown document of the
knowledge base readable by the chosen groups and found by search as soon as it is published."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from apps.knowledge.ingest.connectors.directory import upload_dir
from apps.knowledge.search.retrieval import search
from apps.scenarios.models import PostmortemTemplate, PublishedPostmortem, Run
from apps.scenarios.postmortem import templates

TIMELINE = """2026-03-05
14:02 impact started: 5xx on /pay
14:06 alert PaymentsHighErrorRate fired
14:09 @ivan ack
14:25 rolled back to v2.13
14:40 resolved
14:45 TODO @ivan canary for payments до 2026-03-20
"""


@pytest.fixture
def empty_index(tmp_path: Path, settings: Any) -> Iterator[None]:
    from apps.knowledge.store import qdrant

    qdrant.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = str(tmp_path / "qdrant")
    settings.KNOWLEDGE_JOBS_INLINE = True
    settings.VAR_DIR = tmp_path / "var"
    yield
    qdrant.close()


def _draft(client: Client, user: User) -> Run:
    url = reverse("scenarios:page", args=["postmortem"])
    response = client.post(url, {"mode": "paste", "text": TIMELINE, "timezone": "UTC"})
    assert response.status_code == 302
    return Run.objects.get(user=user, scenario="postmortem")


@pytest.mark.django_db
def test_the_template_is_filled_from_the_timeline_in_both_languages(
    member_client: Client, member: User
) -> None:
    run = _draft(member_client, member)
    ru = templates.fill(run.facts, "ru", "Пост-мортем: платежи")
    assert "## Хронология" in ru and "| T2 | 2026-03-05 14:06:00 |" in ru
    assert "- Время до обнаружения: 4 min" in ru
    assert "- [ ] TODO @ivan canary for payments до 2026-03-20 (ответственный: @ivan" in ru
    en = templates.fill(run.facts, "en", "Payments")
    assert "## Root cause" in en and "- Time to resolve: 38 min" in en
    PostmortemTemplate.objects.create(language="en", body="# {title}\n\n## Timeline\n{timeline}")
    assert templates.fill(run.facts, "en", "Ours").startswith("# Ours\n\n## Timeline\n| T |")
    page = member_client.get(reverse("scenarios:run", args=["postmortem", run.pk]))
    assert reverse("postmortem:publish", args=[run.pk]).encode() in page.content


@pytest.mark.django_db
def test_published_post_mortem_is_found_by_search_at_once_by_its_readers_only(
    empty_index: None, member_client: Client, member: User, outsider: User, outsider_client: Client
) -> None:
    run = _draft(member_client, member)
    url = reverse("postmortem:publish", args=[run.pk])
    with translation.override("en"):
        form = member_client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert form.status_code == 200 and b'name="groups"' in form.content
    body = templates.fill(run.facts, "en", "Payments 502 after deploy").replace(
        "TODO: the root cause and contributing factors.",
        "The connection pool of payments-gateway was sized 5 instead of 50.",
    )
    response = member_client.post(
        url,
        {
            "title": "Payments 502 after deploy",
            "incident": "INC-4242",
            "body": body,
            "groups": ["sre"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    row = PublishedPostmortem.objects.get()
    assert row.indexed is not None and row.groups == ["sre"] and row.run == run
    assert row.source_id is not None
    assert (upload_dir(row.source_id) / row.path).read_text().startswith("# Payments 502")
    hits = search(member, "payments-gateway connection pool sized", k=3)
    assert hits and hits[0].path == row.path and hits[0].section.endswith("Root cause")
    assert not [
        h for h in search(outsider, "payments-gateway connection pool", k=5) if h.path == row.path
    ]
    shown = member_client.get(response["Location"])
    assert shown.status_code == 200 and b"sized 5 instead of 50" in shown.content
    assert outsider_client.get(response["Location"]).status_code == 403
    # Only the run's owner may publish it.
    assert outsider_client.get(url).status_code == 404


@pytest.mark.django_db
def test_an_empty_post_mortem_is_refused(
    empty_index: None, member_client: Client, member: User
) -> None:
    run = _draft(member_client, member)
    response = member_client.post(
        reverse("postmortem:publish", args=[run.pk]), {"title": "x", "body": "   "}
    )
    assert response.status_code == 200 and not PublishedPostmortem.objects.exists()
