"""Summarizing a written post-mortem: its sections found by Russian and English headings
(Markdown, Confluence wiki, bold lines), the report picked from the knowledge base by
incident number or path with the reader's permissions, and the refusal that names the
number."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import InputError
from apps.scenarios.models import Run
from apps.scenarios.postmortem import report

DEMO = Path(settings.BASE_DIR) / "samples" / "knowledge" / "postmortems"
ENGLISH = """# Post-mortem: payments 502s after the v2.14 deploy (INC-12345)

## Summary
Payments returned 502 for 38 minutes after a deploy.

## Impact
- 4% of card payments failed between 14:02 and 14:40 MSK.

## Timeline
| Time | Event |
|---|---|
| 14:02 | errors start |
| 14:40 | resolved |

## Root cause
The new connection pool size was 5 instead of 50.

### Contributing factors
No canary for payments.

## Mitigation
Rolled back to v2.13 at 14:25.

## Action items
- [ ] Canary for payments deploys — owner: @ivan, due 2026-03-20
- [x] Alert on pool saturation — @olga до 2026-03-25
- Review deploy checklist
"""
CONFLUENCE = """h1. Разбор инцидента 777

h2. Влияние
Не работала выгрузка отчётов 20 минут.

h2. Первопричина
Истёк сертификат.

h2. Устранение
Перевыпустили сертификат.

h2. Задачи
* Мониторинг срока сертификатов — ответственный: Петров, срок 2026-04-01
"""


def test_english_sections_and_action_items_are_found_by_their_headings() -> None:
    title, found = report.sections(ENGLISH)
    assert title.startswith("Post-mortem: payments 502s")
    assert [s.kind for s in found] == [
        "summary",
        "impact",
        "timeline",
        "root_cause",
        "mitigation",
        "action_items",
    ]
    cause = next(s for s in found if s.kind == "root_cause")
    assert "pool size was 5" in cause.text and "No canary" in cause.text  # subsection kept
    items = next(s for s in found if s.kind == "action_items").items
    assert [(i["owner"], i["due"], i["done"]) for i in items] == [
        ("@ivan", "2026-03-20", ""),
        ("@olga", "2026-03-25", "yes"),
        ("", "", ""),
    ]


def test_confluence_wiki_headings_in_russian() -> None:
    title, found = report.sections(CONFLUENCE)
    assert title == "Разбор инцидента 777"
    assert [s.kind for s in found] == ["impact", "root_cause", "mitigation", "action_items"]
    assert found[-1].items[0]["owner"] == "Петров"
    assert found[-1].items[0]["due"] == "2026-04-01"


def test_the_demo_post_mortems_have_every_section() -> None:
    for path in DEMO.glob("20*.md"):
        _, found = report.sections(path.read_text())
        kinds = {s.kind for s in found}
        assert {"timeline", "impact", "root_cause", "action_items"} <= kinds, path.name


def test_the_analysis_cites_sections_and_flags_what_is_missing() -> None:
    scenario = registry.get("postmortem-summary")
    with translation.override("en"):
        result = scenario.analyze(CONFLUENCE, {}).to_dict()
    rules = [f["rule"] for f in result["findings"]]
    assert "postmortem.section-missing.timeline" in rules
    assert "postmortem.section.root_cause" in rules
    cause = next(f for f in result["findings"] if f["rule"] == "postmortem.section.root_cause")
    assert cause["message"].startswith("[Root cause]") and cause["evidence"] == "Истёк сертификат."
    with translation.override("ru"):
        ru = scenario.analyze(CONFLUENCE, {}).to_dict()
    cause = next(f for f in ru["findings"] if f["rule"] == "postmortem.section.root_cause")
    assert cause["message"].startswith("[Первопричина]")
    with pytest.raises(InputError) as err, translation.override("en"):
        scenario.analyze("just some notes\nwith no headings\n", {})
    assert "no post-mortem sections found" in str(err.value)


@pytest.fixture
def postmortem_kb(tmp_path: Path, settings: Any, admin_user: User) -> Iterator[None]:
    """The demo's post-mortems for everyone, and one for the sre group only, indexed in a
    Qdrant of this test's own."""
    from apps.knowledge import actions
    from apps.knowledge.store import qdrant

    qdrant.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = str(tmp_path / "qdrant")
    settings.KNOWLEDGE_JOBS_INLINE = True
    public, restricted = tmp_path / "postmortems", tmp_path / "sre-postmortems"
    public.mkdir()
    restricted.mkdir()
    for path in DEMO.glob("20*.md"):
        shutil.copy(path, public / path.name)
    (restricted / "2026-03-payments.md").write_text(ENGLISH)
    actions.ingest_directory(admin_user, public, "postmortems", [])
    actions.ingest_directory(admin_user, restricted, "sre-postmortems", ["sre"])
    yield
    qdrant.close()


@pytest.mark.django_db
def test_a_report_is_found_by_incident_number_for_those_who_may_read_it(
    postmortem_kb: None, member: User, outsider: User
) -> None:
    text, doc = report.find(outsider, "#2025-014")
    assert "rmq-core" in doc.title
    _, found = report.sections(text)
    assert {"timeline", "impact", "root_cause", "action_items"} <= {s.kind for s in found}
    text, doc = report.find(member, "#12345")  # member is in sre
    assert doc.path.endswith("2026-03-payments.md")
    with pytest.raises(InputError) as err, translation.override("en"):
        report.find(outsider, "#12345")
    assert str(err.value) == "no post-mortem #12345 in the sources you may read"
    with pytest.raises(InputError), translation.override("en"):
        report.find(member, "#99999")
    assert Group.objects.filter(name="sre").exists()


@pytest.mark.django_db
def test_the_page_summarizes_a_report_named_by_number(
    postmortem_kb: None, outsider_client: Client, outsider: User
) -> None:
    member_client, member = outsider_client, outsider
    url = reverse("scenarios:page", args=["postmortem-summary"])
    assert member_client.get(url).status_code == 200
    response = member_client.post(url, {"mode": "paste", "text": "", "report": "INC-2024-087"})
    assert response.status_code == 302, response.content.decode()[:3000]
    run = Run.objects.get(user=member, scenario="postmortem-summary")
    assert "Ceph" in run.facts["title"]
    assert run.facts["document"]["title"] and run.origin == Run.Origin.SYSTEM
    with translation.override("en"):
        missing = member_client.post(
            url, {"mode": "paste", "text": "", "report": "#12345"}, HTTP_ACCEPT_LANGUAGE="en"
        )
    body = missing.content.decode()
    assert missing.status_code == 200
    assert "#12345" in body and Run.objects.filter(scenario="postmortem-summary").count() == 1
    assert "no post-mortem #12345" in body or "нет пост-мортема #12345" in body
