"""A stored hostile answer is inert on the chat page (the renderer: inference/rendering.py)."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from django.test import Client
from django.urls import reverse

from apps.chat.models import Conversation, Message
from apps.inference.tests.test_rendering import HOSTILE, assert_inert


@pytest.mark.django_db
def test_stored_hostile_answer_is_inert_on_the_page(member, member_client: Client) -> None:
    conv = Conversation.objects.create(user=member, title="xss")
    Message.objects.create(conversation=conv, role="user", content="<script>alert(1)</script>")
    Message.objects.create(
        conversation=conv,
        role="assistant",
        content=HOSTILE,
        citations=[
            {"n": 1, "title": "<b>T</b>", "section": "s", "link": "javascript:alert(1)"},
            {"n": 2, "title": "Ceph runbook", "section": "OSD", "link": "https://wiki/ceph"},
            {
                "n": 3,
                "title": "Runbook: etcd",
                "section": "",
                "link": "https://docs/d/1",
                "version": "v12<img src=x onerror=alert(1)>",
            },  # fmt: skip
        ],
    )
    page = member_client.get(reverse("chat:conversation", args=[conv.pk])).content.decode()
    soup = BeautifulSoup(page, "html.parser")
    messages = soup.find(id="messages")
    assert messages is not None
    # Everything built from model or document text: the question, the answer, the sources.
    for part in messages.select(".bubble, .answer, .citations"):
        assert_inert(str(part))
    assert "<b>T</b>" in messages.get_text()  # a title from a document is text, not markup
    assert messages.find("a", href="https://wiki/ceph") is not None
    # The revision a citation was read from (a Drive version, a commit) is shown, as text.
    assert "Runbook: etcd · v12<img src=x o…" in messages.get_text()
