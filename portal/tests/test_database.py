"""The database as the portal sets it up, on both engines (common/database.py)."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import Group, User
from django.db import IntegrityError, connection, connections, transaction

from apps.chat.models import Conversation, Feedback, Message
from common import database

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_engines]


def test_a_transaction_that_reads_then_writes_waits_for_another_writer() -> None:
    """Two writers at once: the second waits for the first and then succeeds. On SQLite a
    deferred transaction that read before the other committed could not write at all
    ("database is locked", at once, whatever the busy timeout)."""
    group = Group.objects.create(name="sre")
    wrote, go_on = threading.Event(), threading.Event()

    def first_writer() -> None:
        try:
            with transaction.atomic():
                Group.objects.filter(pk=group.pk).update(name="sre-1")
                wrote.set()
                go_on.wait(10)  # holds its write while the other transaction begins
        finally:
            connections.close_all()

    thread = threading.Thread(target=first_writer)
    thread.start()
    assert wrote.wait(10)
    timer = threading.Timer(0.5, go_on.set)
    timer.start()
    try:
        with transaction.atomic():
            # FOR UPDATE: PostgreSQL waits here for the other's commit and reads its value.
            name = Group.objects.select_for_update().get(pk=group.pk).name
            Group.objects.filter(pk=group.pk).update(name=f"{name}+2")
    finally:
        go_on.set()
        thread.join(10)
        timer.cancel()
    assert Group.objects.get(pk=group.pk).name == "sre-1+2"


def test_the_violated_unique_constraint_is_named_on_both_engines() -> None:
    user = User.objects.create_user("member", password="member-pass-123")
    conv = Conversation.objects.create(user=user)
    Message.objects.create(conversation=conv, role="assistant", status="streaming")
    with pytest.raises(IntegrityError) as streaming, transaction.atomic():
        Message.objects.create(conversation=conv, role="assistant", status="streaming")
    assert database.violated_constraint(streaming.value, Message) == "chat_one_streaming_answer"

    answer = Message.objects.create(conversation=conv, role="assistant", status="complete")
    Feedback.objects.create(message=answer, user=user, rating=1)
    with pytest.raises(IntegrityError) as twice, transaction.atomic():
        Feedback.objects.create(message=answer, user=user, rating=-1)
    assert database.violated_constraint(twice.value, Feedback) == "chat_feedback_once"
    # Another model's constraint, or an error that is not about a unique constraint.
    assert database.violated_constraint(twice.value, Message) == ""
    with pytest.raises(IntegrityError) as orphan, transaction.atomic():
        Message.objects.create(conversation_id=conv.pk + 1000, role="user")
        if connection.vendor == "sqlite":
            connection.check_constraints()  # SQLite checks foreign keys at commit
    assert database.violated_constraint(orphan.value, Message) == ""
