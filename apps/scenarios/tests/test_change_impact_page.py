"""The change-impact page: a catalog pasted with a service and a change gives a run showing the
blast radius as a picture, the owners, the checklist, and the past incidents that mention the
service among the knowledge sources the reader may read (another reader, another list)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from apps.scenarios.models import Run
from apps.scenarios.tests.change_impact_fixtures import CATALOG

PAGE = "/scenarios/change-impact/"


@pytest.fixture(autouse=True)
def english(member_client: Client, admin_client: Client) -> None:
    """The pages in English (the portal starts in Russian; the switcher's cookie)."""
    for client in (member_client, admin_client):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


OPEN_POSTMORTEM = """# Post-mortem: payments outage, 2026-10-14

## Summary
payments returned 502 for 40 minutes after the connection pool of payments-db was exhausted
during a schema migration. checkout-web retried and tripled the load.

## Lessons
Run schema migrations on payments outside the evening peak; raise the pool first.
"""
SECRET_POSTMORTEM = """# Incident review: payments card data exposure

## Timeline
payments logged card numbers for 3 hours; the dba team purged the logs.
"""
RUNBOOK = """# Deploying payments

## Steps
Roll out payments with `helm upgrade payments`; watch the error rate.
"""


@pytest.fixture
def incidents_kb(settings: Any, tmp_path: Path, admin_user: User) -> Iterator[None]:
    from apps.knowledge import actions
    from apps.knowledge.models import Source
    from apps.knowledge.store import qdrant

    qdrant.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = str(tmp_path / "qdrant")
    settings.KNOWLEDGE_JOBS_INLINE = True
    settings.PROMETHEUS_URL = ""
    shared = tmp_path / "wiki"
    (shared / "postmortems").mkdir(parents=True)
    (shared / "postmortems" / "2026-10-14-payments-outage.md").write_text(OPEN_POSTMORTEM)
    (shared / "runbooks").mkdir()
    (shared / "runbooks" / "payments-deploy.md").write_text(RUNBOOK)
    secret = tmp_path / "security"
    (secret / "incidents").mkdir(parents=True)
    (secret / "incidents" / "payments-card-data.md").write_text(SECRET_POSTMORTEM)
    try:
        assert actions.ingest_directory(admin_user, shared, "Wiki", []).state == "done"
        assert actions.ingest_directory(admin_user, secret, "Security", ["dba"]).state == "done"
        yield
    finally:
        Source.objects.filter(name__in=["Wiki", "Security"]).delete()
        qdrant.close()


@pytest.mark.django_db
def test_a_pasted_catalog_gives_the_blast_radius_picture_checklist_and_incidents(
    member_client: Client, admin_client: Client, incidents_kb: None
) -> None:
    response = member_client.post(
        PAGE,
        {"mode": "paste", "text": CATALOG, "service": "payments", "depth": "2",
         "change": "PostgreSQL schema migration"},
            )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    run = Run.objects.get()
    assert run.params["service"] == "payments" and run.params["depth"] == 2
    assert run.title == "payments: PostgreSQL schema migration"  # as "Your runs" lists it
    page = member_client.get(response["Location"]).content.decode()
    assert 'id="ci-graph"' in page and "<title>storefront (component) — team-web</title>" in page
    assert "the catalog only (PROMETHEUS_URL is not set)" in page
    assert "Tell the owners before the change: team-payments, team-web." in page
    assert "Take a backup and check that it restores" in page
    assert "payments@example.com" in page
    # The member reads the wiki: the outage post-mortem, not the runbook, not the dba's review.
    assert "Post-mortem: payments outage" in page
    assert "Deploying payments" not in page.split('id="ci-incidents"')[1].split("</ul>")[0]
    assert "card data exposure" not in page
    # The page's own words in Russian (findings and checklist stay in the language they
    # were written in at submit, as every run's do).
    member_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    russian = member_client.get(response["Location"]).content.decode()
    assert "Радиус поражения" in russian and "Кого предупредить" in russian
    assert "только каталог (PROMETHEUS_URL не задан)" in russian
    # An admin reads every source: the same run shows both write-ups.
    run.share_token = "t" * 32
    run.save(update_fields=["share_token"])
    shared = admin_client.get(f"/scenarios/shared/{'t' * 32}/")
    assert shared.status_code == 200
    assert "card data exposure" in shared.content.decode()


@pytest.mark.django_db
def test_an_unknown_service_comes_back_with_the_nearest_name_and_the_input_kept(
    member_client: Client, settings: Any
) -> None:
    settings.PROMETHEUS_URL = ""
    response = member_client.post(
        PAGE,
        {"mode": "paste", "text": CATALOG, "service": "paymnts", "depth": "2"},
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "&#x27;paymnts&#x27; is not in the catalog; did you mean &#x27;payments&#x27;?" in body
    assert "team-payments" in body  # the catalog is still in the box
    assert not Run.objects.exists()
    member_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    russian = member_client.post(
        PAGE, {"mode": "paste", "text": CATALOG, "service": "paymnts", "depth": "2"}
    ).content.decode()
    assert "«paymnts» нет в каталоге; может быть, «payments»?" in russian


@pytest.mark.django_db
def test_a_yaml_bomb_is_refused_on_the_page_naming_its_line(
    member_client: Client, settings: Any
) -> None:
    from apps.scenarios.tests.test_change_impact import BOMB

    settings.PROMETHEUS_URL = ""
    response = member_client.post(
        PAGE, {"mode": "paste", "text": BOMB, "service": "payments", "depth": "2"},
            )  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 400 and "alias bomb" in body and "Line 6:" in body


@pytest.mark.django_db
def test_the_catalog_read_from_an_indexed_git_repository_at_a_branch(
    member_client: Client, admin_user: User, tmp_path: Path, settings: Any
) -> None:
    from apps.knowledge.tests.test_gitfiles import git, synced_source

    settings.VAR_DIR = tmp_path / "var"
    settings.PROMETHEUS_URL = ""
    repo = tmp_path / "catalog"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("# Service catalog\n")
    (repo / "catalog-info.yaml").write_text(CATALOG)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "catalog")
    git(repo, "checkout", "-q", "-b", "release-7")
    (repo / "catalog-info.yaml").write_text(
        CATALOG + "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n"
        "  name: refunds\nspec:\n  owner: team-refunds\n  dependsOn: [component:payments]\n"
    )
    git(repo, "commit", "-q", "-am", "refunds")
    git(repo, "checkout", "-q", "main")
    source = synced_source(admin_user, repo)
    response = member_client.post(
        PAGE,
        {"mode": "git", "source": source.pk, "ref": "release-7", "path": "catalog-info.yaml",
         "service": "payments", "depth": "1"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    run = Run.objects.get()
    assert run.origin == Run.Origin.GIT and run.input_ref == "release-7"
    assert [n["name"] for n in run.facts["downstream"]] == ["checkout-web", "refunds"]


@pytest.mark.django_db
def test_the_http_api_takes_the_same_fields(member: User, settings: Any) -> None:
    from apps.accounts.tokens import create_token
    from apps.scenarios.tests.test_api import post

    settings.PROMETHEUS_URL = ""
    token = create_token(member, "ci")[1]
    url = "/api/scenarios/change-impact/analyze"
    ok = post({"text": CATALOG, "params": {"service": "payments", "depth": 1}}, token, url=url)
    assert ok.status_code == 200, ok.content
    assert [n["name"] for n in ok.json()["downstream"]] == ["checkout-web"]
    wrong = post({"text": CATALOG, "params": {"service": "paymnts"}}, token, url=url)
    assert wrong.status_code == 400
    assert wrong.json()["error"]["message"] == (
        "'paymnts' is not in the catalog; did you mean 'payments'?"
    )
    assert wrong.json()["error"]["field"] in ("service", "params.service")
    deep = post({"text": CATALOG, "params": {"service": "payments", "depth": 9}}, token, url=url)
    assert deep.status_code == 400 and deep.json()["error"]["field"] == "params.depth"
