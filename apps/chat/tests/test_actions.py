"""Writes behind a Send: one answer at a time per conversation, and a dead writer never blocks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.chat import actions
from apps.chat.models import Conversation, Message

pytestmark = [pytest.mark.django_db, pytest.mark.both_engines]


def test_second_send_while_an_answer_is_written_is_refused_and_stores_nothing(member) -> None:
    conv = Conversation.objects.create(user=member)
    first = actions.begin_exchange(conv.pk, member, "Why is etcd slow?", "auto", True)
    with pytest.raises(actions.ChatError, match="пишется"):
        actions.begin_exchange(conv.pk, member, "And now?", "auto", True)
    assert list(conv.messages.values_list("role", "content")) == [
        ("user", "Why is etcd slow?"),
        ("assistant", ""),
    ]
    conv.refresh_from_db()
    assert conv.title == "Why is etcd slow?"
    assert first.history == []


def test_an_answer_whose_writer_died_no_longer_blocks(member) -> None:
    conv = Conversation.objects.create(user=member, title="kept")
    first = actions.begin_exchange(conv.pk, member, "Question one", "fast", False)
    Message.objects.filter(pk=first.answer_id).update(
        content="partial", heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    second = actions.begin_exchange(conv.pk, member, "Question two", "heavy", False)
    dead = Message.objects.get(pk=first.answer_id)
    assert dead.status == Message.Status.INTERRUPTED and dead.content == "partial"
    assert "stopped" in dead.error
    assert second.history == [
        {"role": "user", "content": "Question one"},
        {"role": "assistant", "content": "partial"},
    ]
    conv.refresh_from_db()
    assert conv.title == "kept" and conv.tier == "heavy" and not conv.knowledge


def test_someone_elses_conversation_cannot_be_written(member, outsider) -> None:
    conv = Conversation.objects.create(user=member)
    with pytest.raises(Conversation.DoesNotExist):
        actions.begin_exchange(conv.pk, outsider, "mine?", "auto", True)
    assert not conv.messages.exists()


def test_one_save_updates_every_streaming_answer_but_never_a_finished_one(member) -> None:
    one = actions.begin_exchange(
        Conversation.objects.create(user=member).pk, member, "a", "fast", False
    )
    two = actions.begin_exchange(
        Conversation.objects.create(user=member).pk, member, "b", "fast", False
    )
    done = actions.begin_exchange(
        Conversation.objects.create(user=member).pk, member, "c", "fast", False
    )
    actions.finish_stream(
        done.answer_id, done.conversation_id, "final text", 9, {"status": Message.Status.COMPLETE}
    )
    start = {"backend": "cpu-live", "model": "gemma-3-270m", "tier": "fast", "junk": "x"}
    actions.flush_streams(
        [(one.answer_id, "partial one", 3), (two.answer_id, "partial two", 5),
         (done.answer_id, "stale partial", 4)],
        {one.answer_id: start},
    )  # fmt: skip
    first, second, finished = (Message.objects.get(pk=e.answer_id) for e in (one, two, done))
    assert (first.content, first.stream_seq, first.model) == ("partial one", 3, "gemma-3-270m")
    assert (second.content, second.stream_seq, second.model) == ("partial two", 5, "")
    assert first.heartbeat_at and second.heartbeat_at
    assert (finished.content, finished.stream_seq) == ("final text", 9)
    assert finished.status == Message.Status.COMPLETE


def test_regenerate_while_an_answer_is_written_is_refused_and_changes_nothing(member) -> None:
    conv = Conversation.objects.create(user=member)
    first = actions.begin_exchange(conv.pk, member, "Why is etcd slow?", "auto", True)
    with pytest.raises(actions.ChatError, match="пишется"):
        actions.begin_regenerate(conv.pk, member, "heavy", False)
    answer = Message.objects.get(pk=first.answer_id)
    assert answer.status == Message.Status.STREAMING and not answer.superseded
    assert conv.messages.count() == 2
    conv.refresh_from_db()
    assert conv.tier == "auto" and conv.knowledge


def test_regenerate_after_the_writer_died_replaces_its_partial_answer(member) -> None:
    conv = Conversation.objects.create(user=member)
    first = actions.begin_exchange(conv.pk, member, "Why is etcd slow?", "auto", True)
    Message.objects.filter(pk=first.answer_id).update(
        content="partial", heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    again = actions.begin_regenerate(conv.pk, member, "fast", True)
    dead = Message.objects.get(pk=first.answer_id)
    assert dead.status == Message.Status.INTERRUPTED and dead.superseded
    fresh = Message.objects.get(pk=again.answer_id)
    assert fresh.status == Message.Status.STREAMING and not fresh.superseded
    assert again.question == "Why is etcd slow?" and again.question_id == first.question_id
