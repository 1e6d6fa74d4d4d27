"""Chat pages: success, wrong method, and nobody sees another user's conversation."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.chat.models import Conversation, Feedback, Message

pytestmark = [pytest.mark.django_db, pytest.mark.both_engines]


@pytest.fixture
def conv(member) -> Conversation:
    c = Conversation.objects.create(user=member, title="Ceph OSD down")
    Message.objects.create(conversation=c, role="user", content="Why is osd.3 down?")
    Message.objects.create(
        conversation=c,
        role="assistant",
        content="Check the **disk** first [1].",
        model="gemma-3-270m",
        tier="fast",
        ttft_s=0.12,
        tokens_per_s=23.5,
        completion_tokens=9,
        citations=[{"n": 1, "title": "Ceph runbook", "section": "OSD", "link": "/docs/ceph"}],
    )
    return c


def test_index_lists_own_conversations_in_russian(member_client: Client, conv, outsider) -> None:
    Conversation.objects.create(user=outsider, title="Secret of the outsider")
    page = member_client.get(reverse("chat:index")).content.decode()
    assert "Ceph OSD down" in page
    assert "Secret of the outsider" not in page
    assert "Новый разговор" in page and "Отправить" in page
    assert member_client.post(reverse("chat:index")).status_code == 405


def test_the_tier_menu_is_the_gateways_list_with_the_conversations_choice(
    member_client: Client, conv
) -> None:
    import re

    from apps.inference.models import TIER_CHOICES

    def menu(url: str) -> list[tuple[str, bool]]:
        page = member_client.get(url).content.decode()
        select = re.search(r'<select name="tier".*?</select>', page, re.S)
        assert select is not None
        found = re.findall(r'<option value="(\w+)"( selected)?>', select.group(0))
        return [(value, bool(chosen)) for value, chosen in found]

    values = [value for value, _label in TIER_CHOICES]
    assert menu(reverse("chat:index")) == [(v, v == "auto") for v in values]
    conv.tier = "heavy"
    conv.save(update_fields=["tier"])
    assert menu(reverse("chat:conversation", args=[conv.pk])) == [(v, v == "heavy") for v in values]


def test_conversation_page_shows_answer_with_metrics(member_client: Client, conv) -> None:
    url = reverse("chat:conversation", args=[conv.pk])
    page = member_client.get(url).content.decode()
    assert "<strong>disk</strong>" in page
    assert "gemma-3-270m" in page and "0,12" in page and "23,5" in page
    assert '<a href="/docs/ceph"' in page and "Ceph runbook" in page
    assert member_client.post(url).status_code == 405


def test_outsider_cannot_see_or_change_anothers_conversation(outsider_client: Client, conv) -> None:
    answer = conv.messages.get(role="assistant")
    assert outsider_client.get(reverse("chat:conversation", args=[conv.pk])).status_code == 404
    rename = outsider_client.post(reverse("chat:rename", args=[conv.pk]), {"title": "mine"})
    assert rename.status_code == 404
    assert outsider_client.post(reverse("chat:delete", args=[conv.pk])).status_code == 404
    fb = outsider_client.post(reverse("chat:feedback", args=[answer.pk]), {"rating": "1"})
    assert fb.status_code == 404
    conv.refresh_from_db()
    assert conv.title == "Ceph OSD down" and not Feedback.objects.exists()


def test_search_by_title_returns_the_sidebar_partial(member_client: Client, conv, member) -> None:
    Conversation.objects.create(user=member, title="Nginx 502 after deploy")
    response = member_client.get(
        reverse("chat:index"), {"q": "nginx"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="conv-list"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nginx 502" in html and "Ceph OSD" not in html and "<html" not in html


def test_search_by_title_ignores_case_in_russian_too(member_client: Client, member) -> None:
    Conversation.objects.create(user=member, title="Кафка отстаёт на топике billing")
    Conversation.objects.create(user=member, title="Под в CrashLoopBackOff")
    for query, found in (
        ("кафка", "Кафка отстаёт"),
        ("ПОД В", "Под в Crash"),
        ("crashloop", "Под"),
    ):
        response = member_client.get(
            reverse("chat:index"), {"q": query}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="conv-list"
        )
        html = response.content.decode()
        assert found in html, (query, html[:300])
    missing = member_client.get(reverse("chat:index"), {"q": "100%"}).content.decode()
    assert "Кафка" not in missing and "CrashLoop" not in missing  # % is a character here


def test_create_rename_delete(member_client: Client, member) -> None:
    response = member_client.post(
        reverse("chat:create"),
        {"text": "How do I drain a node?", "tier": "fast", "knowledge": "off"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201
    conv = Conversation.objects.get(pk=response.json()["id"])
    assert conv.user == member and conv.tier == "fast" and not conv.knowledge
    assert conv.title == "How do I drain a node?"
    assert member_client.get(reverse("chat:create")).status_code == 405
    bad = member_client.post(reverse("chat:create"), {"text": "x", "tier": "huge"})
    assert bad.status_code == 400 and "huge" in bad.json()["error"]

    renamed = member_client.post(
        reverse("chat:rename", args=[conv.pk]), {"title": "Draining"}, HTTP_HX_REQUEST="true"
    )
    assert renamed.status_code == 200 and "Draining" in renamed.content.decode()
    empty = member_client.post(
        reverse("chat:rename", args=[conv.pk]), {"title": "  "}, HTTP_HX_REQUEST="true"
    )
    assert "не может быть пустым" in empty.content.decode()
    conv.refresh_from_db()
    assert conv.title == "Draining"
    assert member_client.get(reverse("chat:rename", args=[conv.pk])).status_code == 405

    gone = member_client.post(
        reverse("chat:delete", args=[conv.pk]), {"current": str(conv.pk)}, HTTP_HX_REQUEST="true"
    )
    assert gone.status_code == 200 and gone["HX-Redirect"] == reverse("chat:index")
    assert not Conversation.objects.filter(pk=conv.pk).exists()


def test_feedback_is_stored_and_shown_to_admins(
    member_client: Client, admin_client: Client, outsider_client: Client, conv
) -> None:
    answer = conv.messages.get(role="assistant")
    url = reverse("chat:feedback", args=[answer.pk])
    response = member_client.post(
        url, {"rating": "-1", "comment": "Wrong command for Reef"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "сохранён" in response.content.decode()
    fb = Feedback.objects.get()
    assert fb.rating == -1 and fb.comment == "Wrong command for Reef"
    member_client.post(url, {"rating": "1"}, HTTP_HX_REQUEST="true")
    assert Feedback.objects.get().rating == 1  # changing one's mind updates, never duplicates
    bad = member_client.post(url, {"rating": "7"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400
    assert member_client.get(url).status_code == 405

    console = reverse("chat_console:feedback")
    assert console == "/admin-console/feedback/"
    page = admin_client.get(console).content.decode()
    assert "Ceph OSD down" in page and "member" in page and "Отзывы" in page
    assert admin_client.post(console).status_code == 405
    assert member_client.get(console).status_code == 403
    assert outsider_client.get(console).status_code == 403
    # The console's menu links to it; its former address under /chat/ still leads there.
    assert f'href="{console}"' in admin_client.get(reverse("console:index")).content.decode()
    old = admin_client.get("/chat/admin/feedback/?rating=-1")
    assert old.status_code == 301 and old["Location"] == f"{console}?rating=-1"


def test_anonymous_is_sent_to_login(client: Client, conv) -> None:
    response = client.get(reverse("chat:conversation", args=[conv.pk]))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
