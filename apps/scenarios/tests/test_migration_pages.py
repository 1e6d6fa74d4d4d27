"""The migration checklist page: the form (product, versions, config, plugins, index
versions), the checklist on the run page, progress per step and per user, the Markdown
export, and refusals said under the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.accounts.tokens import create_token
from apps.scenarios import actions as run_actions
from apps.scenarios.migration.models import StepProgress
from apps.scenarios.models import Run

DATA = Path(__file__).parent / "data" / "migration"
pytestmark = pytest.mark.django_db

SEED = {
    "mode": "paste",
    "text": (DATA / "opensearch-1.3.yml").read_text(),
    "product": "opensearch",
    "from_version": "1.3.7",
    "to_version": "2.9.0",
    "plugins": (DATA / "cat_plugins-1.3.txt").read_text(),
    "index_settings": (DATA / "index_version_created.json").read_text(),
}


def _en(client: Client) -> Client:
    client.cookies["django_language"] = "en"
    return client


def _run(client: Client, data: dict[str, str]) -> Run:
    response = client.post("/scenarios/migration/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return Run.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))


def test_the_seed_question_gets_its_checklist_on_the_page(member_client: Client) -> None:
    client = _en(member_client)
    form = client.get("/scenarios/migration/").content.decode()
    for name in (
        "product",
        "from_version",
        "to_version",
        "through",
        "advanced_config",
        "plugins",
        "index_settings",
    ):
        assert f'name="{name}"' in form
    run = _run(client, SEED)
    page = client.get(f"/scenarios/migration/runs/{run.pk}/").content.decode()
    assert "OpenSearch 1.3.7 → 2.9.0" in page
    for text in (
        "Reindex the indices an old major version created",
        "audit-2019",
        "acme-ldap-realm",
        "Take a snapshot to a remote repository",
        "cluster-manager-eligible nodes last",
        "GET _all/_settings/index.version.created?flat_settings=true",
        "Mapping types removed",
    ):
        assert text in page, text
    assert page.count(' data-step="') == len(run.facts["steps"])


def test_a_missing_intermediate_version_is_said_under_the_target_and_the_input_kept(
    member_client: Client,
) -> None:
    client = _en(member_client)
    response = client.post(
        "/scenarios/migration/",
        {
            "mode": "paste",
            "text": "cluster.name: c\n",
            "product": "opensearch",
            "from_version": "1.3",
            "to_version": "3.x",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "OpenSearch 1.3 → 3.x has no direct path; upgrade through 2.19 first" in page
    assert "cluster.name: c" in page
    assert not Run.objects.exists()
    response = client.post("/scenarios/migration/", {**SEED, "from_version": "1.3; reboot"})
    assert response.status_code == 200 and "is not a version like" in response.content.decode()


@pytest.mark.both_engines
def test_progress_is_kept_per_step_per_user_and_exported(
    member_client: Client, member: User, outsider_client: Client
) -> None:
    client = _en(member_client)
    run = _run(client, SEED)
    url = f"/scenarios/migration/runs/{run.pk}/progress/"
    response = client.post(
        url,
        {"step": "snapshot", "state": "done", "note": "snap pre-upgrade-2.9.0 SUCCESS"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert (
        'id="step-snapshot"' in response.content.decode()
        and "mig-done" in response.content.decode()
    )
    client.post(url, {"step": "plugins", "state": "blocked", "note": "acme build missing"})
    assert StepProgress.objects.filter(run=run, user=member).count() == 2
    page = client.get(f"/scenarios/migration/runs/{run.pk}/").content.decode()
    assert "acme build missing" in page
    md = client.get(f"/scenarios/migration/runs/{run.pk}/checklist.md")
    assert md["Content-Type"].startswith("text/markdown")
    assert "attachment" in md["Content-Disposition"]
    text = md.content.decode()
    assert text.startswith("# Migration checklist: OpenSearch 1.3.7 → 2.9.0")
    assert "- [x] **" in text and "Take a snapshot to a remote repository" in text
    assert "- [!] **" in text and "acme build missing" in text
    assert "GET _all/_settings/index.version.created?flat_settings=true" in text
    assert (
        "Source: [Rolling Upgrade](https://docs.opensearch.org/latest/install-and-configure/upgrade-opensearch/rolling-upgrade/)"
        in text
    )
    # clearing a step, an unknown step, someone else's run, a GET
    client.post(url, {"step": "plugins", "state": ""})
    assert not StepProgress.objects.filter(run=run, step="plugins").exists()
    assert client.post(url, {"step": "no-such-step", "state": "done"}).status_code == 400
    assert client.post(url, {"step": "snapshot", "state": "finished"}).status_code == 400
    assert outsider_client.post(url, {"step": "snapshot", "state": "done"}).status_code == 404
    assert (
        outsider_client.get(f"/scenarios/migration/runs/{run.pk}/checklist.md").status_code == 404
    )
    assert client.get(url).status_code == 405


def test_a_colleague_on_the_share_link_ticks_their_own_steps(
    member_client: Client, member: User
) -> None:
    run = _run(_en(member_client), SEED)
    run_actions.share(run)
    colleague = User.objects.create_user("colleague", password="colleague-pass-1")
    colleague.groups.add(*member.groups.all())
    other = _en(Client())
    other.force_login(colleague)
    url = f"/scenarios/migration/runs/{run.pk}/progress/"
    assert (
        other.post(url, {"step": "health", "state": "done", "share": run.share_token}).status_code
        == 302
    )
    assert (
        other.post(url, {"step": "health", "state": "done", "share": "forged"}).status_code == 404
    )
    assert StepProgress.objects.get(run=run, step="health").user == colleague
    assert not StepProgress.objects.filter(run=run, user=member).exists()


def test_config_text_is_escaped_on_the_page(member_client: Client) -> None:
    client = _en(member_client)
    run = _run(client, {**SEED, "text": 'node.master: "<script>alert(1)</script>"\n'})
    page = client.get(f"/scenarios/migration/runs/{run.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_page_and_the_checklist_in_russian(member_client: Client) -> None:
    member_client.cookies["django_language"] = "ru"
    page = member_client.get("/scenarios/migration/").content.decode()
    assert "Целевая версия" in page and "Текущая версия" in page
    run = _run(
        member_client,
        {
            "mode": "paste",
            "text": "",
            "product": "rabbitmq",
            "from_version": "3.12.14",
            "to_version": "3.13.7",
        },
    )
    page = member_client.get(f"/scenarios/migration/runs/{run.pk}/").content.decode()
    assert "Проверьте, что кластер здоров" in page and "Предпроверка" in page
    assert "Экспорт в Markdown" in page


def test_the_http_api_gives_the_checklist_and_refuses_a_missing_hop(member: User) -> None:
    token = create_token(member, "ci")[1]

    def post(body: object) -> Any:
        return Client().post(
            "/api/scenarios/migration/analyze",
            data=json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
        )

    ok = post(
        {
            "text": "",
            "params": {"product": "rabbitmq", "from_version": "3.13.7", "to_version": "4.0.5"},
        }
    )
    assert ok.status_code == 200
    steps = ok.json()["steps"]
    assert {"precheck", "action", "verify", "rollback", "cite"} <= set(steps[0])
    refused = post(
        {
            "text": "",
            "params": {"product": "rabbitmq", "from_version": "3.12.14", "to_version": "4.0.5"},
        }
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].endswith("upgrade through 3.13 first")
    forged = post(
        {
            "text": "",
            "params": {
                "product": "rabbitmq",
                "from_version": "3.13.7",
                "to_version": "4.0.5",
                "live": {"feature_flags": []},
            },
        }
    )
    assert forged.status_code == 400 and forged.json()["error"]["field"] == "params.live"


def test_cited_guides_are_linked_to_the_knowledge_base_documents_the_user_may_read(
    member_client: Client,
) -> None:
    from django.contrib.auth.models import Group

    from apps.knowledge.models import Document, Source

    vendor = Source.objects.create(name="Vendor docs", type=Source.Type.DIRECTORY)
    vendor.allowed_groups.add(Group.objects.get(name="sre"))
    Document.objects.create(
        source=vendor,
        external_id="a",
        path="rabbitmq/rabbitmq-website/docs/rolling-upgrade.md",
        title="Rolling Upgrade",
    )
    secret = Source.objects.create(name="Secops mirror", type=Source.Type.DIRECTORY)
    secret.allowed_groups.add(Group.objects.create(name="secops"))
    Document.objects.create(
        source=secret, external_id="b", path="docs/feature-flags/index.md", title="Feature Flags"
    )
    client = _en(member_client)
    run = _run(
        client,
        {
            "mode": "paste",
            "text": "",
            "product": "rabbitmq",
            "from_version": "3.13.7",
            "to_version": "4.0.5",
        },
    )
    page = client.get(f"/scenarios/migration/runs/{run.pk}/").content.decode()
    assert "In the knowledge base:" in page and "Vendor docs › Rolling Upgrade" in page
    assert "Secops mirror" not in page
    ticked = client.post(
        f"/scenarios/migration/runs/{run.pk}/progress/",
        {"step": "nodes", "state": "done"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Vendor docs › Rolling Upgrade" in ticked
    text = client.get(f"/scenarios/migration/runs/{run.pk}/checklist.md").content.decode()
    assert "In the knowledge base: Vendor docs › Rolling Upgrade" in text and "Secops" not in text
