"""Security: a user outside a source's groups never gets its chunks - from retrieval, the
search page or the CLI - even when the query quotes the restricted text verbatim."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import AsyncClient, Client
from django.urls import reverse

from apps.knowledge import actions
from apps.knowledge.models import Source
from apps.knowledge.search import retrieval

pytestmark = pytest.mark.django_db

SECRET = "Кодовое слово для аварийного доступа этого квартала: ORION-SEVEN-ZULU-4412"
SECRET_QUERY = "ORION-SEVEN-ZULU-4412 кодовое слово аварийного доступа"


@pytest.fixture
def kb(tmp_path: Path, ingest) -> dict[str, Source]:
    public = tmp_path / "kb"
    restricted = public / "sre-only"
    restricted.mkdir(parents=True)
    (public / "pods.md").write_text(
        "# Pod restarts\n\n## Diagnosis\n\nWhen a pod restarts in CrashLoopBackOff, read the "
        "previous container logs with kubectl logs --previous and check the exit code.\n"
    )
    (public / "access.md").write_text(
        "# Аварийный доступ\n\nПорядок аварийного доступа описан в закрытом разделе для SRE.\n"
    )
    (restricted / "break-glass.md").write_text(
        f"# Break-glass\n\n## Кодовое слово\n\n{SECRET}. Сообщите его дежурному.\n"
    )
    # The nested folder is its own source: creating it first keeps it out of the outer one.
    sre = ingest(restricted, "kb-sre", ["sre"]).source
    everyone = ingest(public, "kb-public").source
    return {"public": everyone, "sre": sre}


def _texts(hits: list[retrieval.Hit]) -> str:
    return "\n".join(h.text for h in hits)


def test_outsider_never_gets_restricted_chunks_even_quoting_them(
    kb, member: User, outsider: User, admin_user: User
) -> None:
    for query in (SECRET, SECRET_QUERY, "ORION", "break-glass кодовое слово"):
        for_outsider = retrieval.search(outsider, query, k=20)
        assert all(h.source_id != kb["sre"].pk for h in for_outsider)
        assert "ORION" not in _texts(for_outsider)
    member_hits = retrieval.search(member, SECRET_QUERY, k=5)
    assert member_hits[0].source == "kb-sre" and "ORION-SEVEN-ZULU-4412" in member_hits[0].text
    assert (
        member_hits[0].path == "break-glass.md"
        and member_hits[0].section == "Break-glass > Кодовое слово"
    )
    assert retrieval.search(admin_user, SECRET_QUERY, k=5)[0].source == "kb-sre"
    # The outer source does not carry the nested folder's files under its own (public) ACL.
    assert not kb["public"].documents.filter(path__startswith="sre-only").exists()


def test_other_groups_and_acl_changes_apply_at_once(
    kb, member: User, admin_user: User, django_capture_on_commit_callbacks
) -> None:
    dba = User.objects.create_user("dba-user")
    dba.groups.add(Group.objects.create(name="dba"))
    assert "ORION" not in _texts(retrieval.search(dba, SECRET, k=20))
    # Move the source from sre to dba: no re-index, the chunks' groups change immediately.
    source = kb["sre"]
    with django_capture_on_commit_callbacks(execute=True):
        actions.save_source(
            admin_user,
            source=source,
            name=source.name,
            type=source.type,
            settings=source.settings,
            groups=["dba"],
        )
    assert "ORION" in _texts(retrieval.search(dba, SECRET, k=5))
    assert "ORION" not in _texts(retrieval.search(member, SECRET, k=20))
    # A disabled source is searchable by nobody, admins included.
    actions.save_source(
        admin_user,
        source=source,
        name=source.name,
        type=source.type,
        settings=source.settings,
        groups=["dba"],
        enabled=False,
    )
    assert "ORION" not in _texts(retrieval.search(admin_user, SECRET, k=20))


def test_user_without_groups_sees_only_public_sources(kb, outsider: User) -> None:
    hits = retrieval.search(outsider, "pod restarts CrashLoopBackOff previous logs", k=5)
    assert hits and hits[0].path == "pods.md" and hits[0].source == "kb-public"
    assert {h.source_id for h in retrieval.search(outsider, "аварийный доступ", k=20)} == {
        kb["public"].pk
    }


def test_cli_search_respects_user(kb, outsider: User, member: User) -> None:
    out = StringIO()
    call_command(
        "knowledge", "search", SECRET, "-k", "20", "--user", "outsider", "--json", stdout=out
    )
    rows = json.loads(out.getvalue())
    assert "ORION" not in out.getvalue() and all(r["source"] != "kb-sre" for r in rows)
    out = StringIO()
    call_command("knowledge", "search", SECRET, "--user", "member", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert rows[0]["path"] == "break-glass.md" and rows[0]["source"] == "kb-sre"
    assert {"path", "title", "section", "text", "score", "source"} <= set(rows[0])
    # Without --user the CLI is an operator who sees everything.
    out = StringIO()
    call_command("knowledge", "search", SECRET, "--json", stdout=out)
    assert json.loads(out.getvalue())[0]["source"] == "kb-sre"


def test_search_page_respects_groups(kb, outsider_client: Client, member_client: Client) -> None:
    url = reverse("knowledge:search")
    query = "кодовое слово аварийного доступа break-glass"  # the page echoes the query itself
    page = outsider_client.get(url, {"q": query}).content.decode()
    assert "ORION" not in page and "kb-sre" not in page
    page = member_client.get(url, {"q": query}).content.decode()
    assert "ORION-SEVEN-ZULU-4412" in page


@pytest.mark.django_db(transaction=True)
async def test_streamed_answer_never_sees_restricted_chunks(kb, outsider: User) -> None:
    client = AsyncClient()
    await client.aforce_login(outsider)
    response = await client.get(
        reverse("knowledge:answer"), {"q": "кодовое слово аварийного доступа break-glass"}
    )
    stream: Any = response.streaming_content  # type: ignore[attr-defined]
    body = b"".join([chunk async for chunk in stream]).decode()
    assert "ORION" not in body and "kb-sre" not in body and "Break-glass" not in body
