"""Glossary edits keep history: every save is a revision, one click reverts to any of them,
a save made meanwhile by another admin is never overwritten, bad lines are named."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.accounts.models import AuditEvent
from apps.knowledge.models import GlossaryEntry, GlossaryRevision
from apps.knowledge.search import glossary

pytestmark = pytest.mark.django_db

URL = "/admin-console/knowledge/glossary/"


def _terms() -> list[str]:
    return sorted(GlossaryEntry.objects.values_list("terms", flat=True))


def _base(client: Client) -> str:
    return str(client.get(URL).context["form"]["base"].value())


def _save(client: Client, text: str, base: str | None = None) -> object:
    return client.post(URL, {"text": text, "base": _base(client) if base is None else base})


def test_every_save_is_a_revision_and_one_click_reverts(admin_client: Client) -> None:
    seeded = _terms()
    assert any("иноды" in t for t in seeded)
    _save(admin_client, "кролик, rabbitmq\nнода, node")
    _save(admin_client, "кролик, rabbitmq, amqp")
    assert _terms() == ["кролик, rabbitmq, amqp"]
    revisions = list(GlossaryRevision.objects.order_by("pk"))
    # The seeded glossary became the first revision, so it can be reverted to as well.
    assert [r.author_name for r in revisions] == ["", "admin", "admin"]
    assert revisions[0].text.splitlines() == [
        e for e in revisions[0].text.splitlines() if e in seeded
    ]
    page = admin_client.get(URL).content.decode()
    assert page.count("Revert to this") + page.count("Вернуть эту версию") == 2
    response = admin_client.post(
        reverse("knowledge_console:glossary_revert", args=[revisions[1].pk])
    )
    assert response.status_code == 302
    assert _terms() == ["кролик, rabbitmq", "нода, node"]
    glossary.invalidate()
    assert "node" in glossary.english_for("нода упала")
    newest = GlossaryRevision.objects.order_by("-pk").first()
    assert newest is not None and newest.reverted_from == revisions[1] and newest.sets == 2
    event = AuditEvent.objects.get(action="glossary_reverted")
    assert event.details["reverted_to"] == revisions[1].pk
    # Back to the seeded defaults, in one click too.
    admin_client.post(reverse("knowledge_console:glossary_revert", args=[revisions[0].pk]))
    assert _terms() == sorted(revisions[0].text.splitlines())


def test_a_save_made_meanwhile_is_not_overwritten(admin_client: Client) -> None:
    other = User.objects.create_superuser("second-admin", password="second-admin-123")
    second = Client()
    second.force_login(other)
    opened = _base(admin_client)  # the first admin opens the editor...
    _save(second, "под, pod")  # ...the second one saves first
    response = _save(admin_client, "нода, node\nmy careful edit, моя правка", base=opened)
    assert response.status_code == 200  # type: ignore[attr-defined]
    html = response.content.decode()  # type: ignore[attr-defined]
    assert "second-admin" in html and "моя правка" in html  # told who, and nothing lost
    assert _terms() == ["под, pod"]
    # Saved again from that page (its base is now the newest revision): accepted.
    base = response.context["form"]["base"].value()  # type: ignore[attr-defined]
    _save(admin_client, "нода, node", base=str(base))
    assert _terms() == ["нода, node"]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("под, pod\nlonely", "Line 2"),
        ("под, pod\n" + "a, " + "b" * 600, "Line 2"),
        ("x, y\n" * 5001, "5000"),
    ],
)
def test_bad_lines_are_named_and_nothing_is_saved(
    admin_client: Client, text: str, named: str
) -> None:
    before = _terms()
    admin_client.cookies["django_language"] = "en"
    response = _save(admin_client, text)
    errors = " ".join(response.context["form"].errors["text"])  # type: ignore[attr-defined]
    assert named in errors
    assert _terms() == before and not GlossaryRevision.objects.exists()


def test_history_shows_terms_escaped_and_views_are_guarded(
    admin_client: Client, member_client: Client, client: Client
) -> None:
    _save(admin_client, "<img src=x onerror=alert(1)>, pwn\nпод, pod")
    html = admin_client.get(URL).content.decode()
    assert "<img src=x" not in html and "&lt;img src=x" in html
    revision = GlossaryRevision.objects.order_by("-pk").first()
    assert revision is not None
    revert = reverse("knowledge_console:glossary_revert", args=[revision.pk])
    assert admin_client.get(revert).status_code == 405
    assert member_client.post(revert).status_code == 403
    assert client.post(revert).status_code == 302  # to sign in
    missing = reverse("knowledge_console:glossary_revert", args=[revision.pk + 1000])
    assert admin_client.post(missing).status_code == 404
    assert admin_client.post(URL, {"text": "a, b", "base": "1; DROP"}).status_code == 200
    assert GlossaryRevision.objects.count() == 2  # the seeded glossary and the one save
