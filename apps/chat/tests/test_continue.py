"""Continuing in chat from another page: a signed hand-off opens a seeded conversation."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.chat.models import Conversation, Message
from apps.chat.views import SEED_KIND
from common import handoff

pytestmark = pytest.mark.django_db

TURNS = [
    {"role": "user", "content": "Nginx review of site.conf: 1 error (line 3, alias traversal)."},
    {
        "role": "assistant",
        "content": "The `alias` without a trailing slash lets `/static../` escape [1].",
        "citations": [{"n": 1, "title": "Nginx runbook", "section": "alias", "link": ""}],
    },
]


def test_a_seed_opens_a_conversation_with_its_turns_as_history(
    member_client: Client, member
) -> None:
    seed = handoff.sign(SEED_KIND, member.pk, {"title": "Review of site.conf", "turns": TURNS})
    response = member_client.post(reverse("chat:continue"), {"seed": seed})
    conv = Conversation.objects.get(user=member)
    assert response.status_code == 302 and response["Location"] == f"/chat/{conv.pk}/"
    assert conv.title == "Review of site.conf"
    rows = list(conv.messages.values_list("role", "status"))
    assert rows == [("user", "complete"), ("assistant", "complete")]
    page = member_client.get(response["Location"]).content.decode()
    assert "alias traversal" in page and "<code>alias</code>" in page and "Nginx runbook" in page
    # The next question is asked with the seeded turns as its history.
    from apps.chat import actions

    assert [t["role"] for t in actions.history(conv.pk, member.pk)] == ["user", "assistant"]
    assert member_client.get(reverse("chat:continue")).status_code == 405


def test_a_seed_signed_for_another_user_or_altered_is_refused(
    outsider_client: Client, member, outsider
) -> None:
    seed = handoff.sign(SEED_KIND, member.pk, {"title": "x", "turns": TURNS})
    tampered = seed[:-3] + ("AAA" if not seed.endswith("AAA") else "BBB")
    wrong_kind = handoff.sign("other.kind", outsider.pk, {"title": "x", "turns": TURNS})
    odd_turns = handoff.sign(SEED_KIND, outsider.pk, {"turns": TURNS[::-1]})
    for bad in (seed, tampered, wrong_kind, odd_turns, ""):
        response = outsider_client.post(reverse("chat:continue"), {"seed": bad}, follow=True)
        assert response.redirect_chain[-1][0] == "/chat/"
        assert "не действительна" in response.content.decode()
    assert not Conversation.objects.exists() and not Message.objects.exists()
    anonymous = Client().post(reverse("chat:continue"), {"seed": seed})
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
