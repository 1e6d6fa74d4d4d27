"""Every write to conversations, messages and feedback goes through these functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from apps.chat.models import Conversation, Feedback, Message
from apps.inference.backends import REQUESTABLE
from apps.inference.models import AUTO
from common import database

MAX_QUESTION_CHARS = 8000
MAX_TITLE_CHARS = 200
VALID_TIERS = REQUESTABLE
# How much earlier conversation goes into the prompt: the small models have short contexts,
# and the retrieved sources must fit beside it.
HISTORY_MESSAGES = 8
HISTORY_CHARS = 6000
# A writer saves at least every few seconds (inference.relay.HEARTBEAT_SECONDS); silence this
# long means its process is gone.
STALE_AFTER = timedelta(seconds=30)
STALE_ERROR = gettext_noop(
    "The server that was writing this answer stopped; the text so far is kept."
)


class ChatError(ValueError):
    """Bad input from the user: the message says what to change."""


@dataclass(frozen=True)
class Ask:
    """What the model is asked: enough to start the request before anything is stored."""

    conversation_id: int
    question: str
    history: list[dict[str, str]]
    tier: str
    knowledge: bool


@dataclass(frozen=True)
class Exchange(Ask):
    """An Ask whose question and empty answer are stored: the answer row to fill."""

    question_id: int
    answer_id: int


def title_from(text: str) -> str:
    words = " ".join(text.split())
    return words if len(words) <= 80 else words[:79].rstrip() + "…"


def check_question(text: str) -> str:
    """The question as stored and asked (stripped), or a ChatError saying what is wrong."""
    text = text.strip()
    if not text:
        raise ChatError(_("The message is empty."))
    if len(text) > MAX_QUESTION_CHARS:
        raise ChatError(
            _("The message is too long: at most %(n)d characters.") % {"n": MAX_QUESTION_CHARS}
        )
    return text


def check_tier(tier: str) -> str:
    if tier not in VALID_TIERS:
        raise ChatError(_("Unknown model tier: %(tier)s") % {"tier": tier})
    return tier


@transaction.atomic
def create_conversation(
    user: Any, title: str = "", knowledge: bool = True, tier: str = AUTO
) -> Conversation:
    return Conversation.objects.create(
        user=user,
        title=title_from(title)[:MAX_TITLE_CHARS],
        knowledge=knowledge,
        tier=check_tier(tier),
    )


@transaction.atomic
def rename_conversation(conversation: Conversation, title: str) -> Conversation:
    title = " ".join(title.split())
    if not title:
        raise ChatError(_("A title cannot be empty."))
    if len(title) > MAX_TITLE_CHARS:
        raise ChatError(_("A title can be at most %(n)d characters.") % {"n": MAX_TITLE_CHARS})
    conversation.title = title
    conversation.save(update_fields=["title", "updated"])
    return conversation


@transaction.atomic
def delete_conversation(conversation: Conversation) -> None:
    conversation.delete()


def history(conversation_id: int, user_id: int) -> list[dict[str, str]]:
    """The earlier turns a new question in this conversation (the user's) is asked with."""
    return _history(conversation_id, None, user_id)


def _history(
    conversation_id: int, before_id: int | None, user_id: int | None = None
) -> list[dict[str, str]]:
    """Earlier complete turns, newest last, trimmed to the prompt budget."""
    rows = Message.objects.filter(conversation_id=conversation_id, superseded=False)
    if before_id is not None:
        rows = rows.filter(id__lt=before_id)
    if user_id is not None:
        rows = rows.filter(conversation__user_id=user_id)
    rows = (
        rows.exclude(role=Message.Role.ASSISTANT, status=Message.Status.FAILED)
        .exclude(content="")
        .order_by("-id")
    )
    picked: list[dict[str, str]] = []
    budget = HISTORY_CHARS
    for role, content in rows.values_list("role", "content")[:HISTORY_MESSAGES]:
        if len(content) > budget:
            break
        budget -= len(content)
        picked.append({"role": role, "content": content})
    picked.reverse()
    # Chat templates expect turns to start with the user.
    while picked and picked[0]["role"] != Message.Role.USER:
        picked.pop(0)
    return picked


def _answer_row(conversation_id: int, tier: str, owner_channel: str) -> Message:
    """An empty answer marked streaming, not saved yet (see _one_streaming)."""
    return Message(
        conversation_id=conversation_id,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        requested_tier=tier,
        owner_channel=owner_channel,
        heartbeat_at=timezone.now(),
    )


def _one_streaming[R](conversation_id: int, store: Callable[[], R]) -> R:
    """Run `store`, a transaction that adds a streaming answer to the conversation.

    The partial unique constraint chat_one_streaming_answer allows one streaming answer per
    conversation, so a second Send while one is written fails in its INSERT, with no lock or
    read, and its transaction is rolled back whole. Only then is an answer whose writer
    stopped saving (its process died) marked interrupted, and `store` runs once more: the
    common case, on the way to the first token, pays no statement for a dead writer."""
    for attempt in (1, 2):
        try:
            return store()
        except IntegrityError as exc:
            if database.violated_constraint(exc, Message) != "chat_one_streaming_answer":
                raise
            if attempt == 2 or not _abandon_stale(conversation_id, timezone.now() - STALE_AFTER):
                raise ChatError(
                    _("An answer is still being written here: stop it or wait.")
                ) from None
    raise AssertionError("unreachable")


def _abandon_stale(conversation_id: int, stale_before: Any) -> int:
    """An answer whose writer stopped saving (its process died) no longer blocks the next."""
    return Message.objects.filter(
        conversation_id=conversation_id,
        status=Message.Status.STREAMING,
        heartbeat_at__lt=stale_before,
    ).update(
        status=Message.Status.INTERRUPTED,
        error=STALE_ERROR,
        owner_channel="",
        finished=timezone.now(),
    )


def _touch(conversation_id: int, user: Any, tier: str, knowledge: bool, title: str = "") -> None:
    """Update the conversation's settings, and check it is the user's, in one statement."""
    fields: dict[str, Any] = {"tier": tier, "knowledge": knowledge, "updated": timezone.now()}
    if title:
        # Only a conversation without a title takes the first question as its title.
        fields["title"] = Case(When(title="", then=Value(title)), default=F("title"))
    if not Conversation.objects.filter(pk=conversation_id, user=user).update(**fields):
        raise Conversation.DoesNotExist


def begin_exchange(
    conversation_id: int,
    user: Any,
    text: str,
    tier: str,
    knowledge: bool,
    owner_channel: str = "",
    history: list[dict[str, str]] | None = None,
) -> Exchange:
    """Store the question and an empty answer marked streaming, in one transaction.

    owner_channel is the control channel of the process that will write the answer.
    `history`, when the caller read it already (history()), is not read again. This is on
    the way to the first token, hence few statements: one UPDATE and one two-row INSERT."""
    text = check_question(text)
    check_tier(tier)
    title = title_from(text)[:MAX_TITLE_CHARS]

    @transaction.atomic
    def store() -> Exchange:
        _touch(conversation_id, user, tier, knowledge, title)
        question = Message(conversation_id=conversation_id, role=Message.Role.USER, content=text)
        answer = _answer_row(conversation_id, tier, owner_channel)
        Message.objects.bulk_create([question, answer])
        earlier = _history(conversation_id, question.pk) if history is None else history
        return Exchange(conversation_id, text, earlier, tier, knowledge, question.pk, answer.pk)

    return _one_streaming(conversation_id, store)


def begin_regenerate(
    conversation_id: int, user: Any, tier: str, knowledge: bool, owner_channel: str = ""
) -> Exchange:
    """Answer the last question again; the previous answer is kept but hidden. While an
    answer is still written here, the new one's INSERT fails and all of this is undone."""
    check_tier(tier)

    @transaction.atomic
    def store() -> Exchange:
        _touch(conversation_id, user, tier, knowledge)
        visible = Message.objects.filter(conversation_id=conversation_id, superseded=False)
        question = visible.filter(role=Message.Role.USER).order_by("-id").first()
        if question is None:
            raise ChatError(_("There is no question to answer again."))
        visible.filter(role=Message.Role.ASSISTANT, id__gt=question.pk).update(superseded=True)
        answer = _answer_row(conversation_id, tier, owner_channel)
        answer.save(force_insert=True)
        history = _history(conversation_id, question.pk)
        return Exchange(
            conversation_id, question.content, history, tier, knowledge, question.pk, answer.pk
        )

    return _one_streaming(conversation_id, store)


START_FIELDS = (
    "backend",
    "model",
    "tier",
    "requested_tier",
    "fell_back",
    "development",
    "citations",
)


@transaction.atomic
def flush_streams(rows: list[tuple[int, str, int]], starts: dict[int, dict[str, Any]]) -> None:
    """Save the text streamed so far of many answers at once (every ~0.5 s, never per
    token): rows of (answer id, text, frame number), and for answers whose model just
    answered, which model it is. The texts go in one round trip (psycopg pipelines
    executemany); an answer no longer streaming is left as its final save wrote it. The
    commit does not wait for the disk: a database crash loses at most the last moment of
    text, which the final save writes anyway."""
    database.commit_without_flush(connection, transaction_only=True)
    for message_id, start in starts.items():
        extra = {k: v for k, v in start.items() if k in START_FIELDS}
        if extra:
            Message.objects.filter(pk=message_id, status=Message.Status.STREAMING).update(**extra)
    now = timezone.now()
    table = connection.ops.quote_name(Message._meta.db_table)
    streaming = Message.Status.STREAMING.value
    with connection.cursor() as cursor:
        cursor.executemany(  # the table name is the model's, quoted; values are parameters
            f"UPDATE {table} SET content = %s, stream_seq = %s, heartbeat_at = %s "  # noqa: S608
            "WHERE id = %s AND status = %s",
            [(text, seq, now, message_id, streaming) for message_id, text, seq in rows],
        )


FINAL_FIELDS = (
    *START_FIELDS,
    "status",
    "error",
    "ttft_s",
    "prompt_tokens",
    "completion_tokens",
    "tokens_per_s",
    "echo",
)


@transaction.atomic
def finish_stream(
    message_id: int, conversation_id: int, content: str, seq: int, fields: dict[str, Any]
) -> dict[str, Any]:
    """Store the final answer with its metrics (status complete, interrupted or failed), in
    two UPDATEs and no read; returns the stored values."""
    now = timezone.now()
    values = {k: v for k, v in fields.items() if k in FINAL_FIELDS}
    values.update(content=content, stream_seq=seq, owner_channel="", finished=now)
    Message.objects.filter(pk=message_id).update(**values)
    Conversation.objects.filter(pk=conversation_id).update(updated=now)
    return values


@transaction.atomic
def abandon_stale_stream(message_id: int, stale_before: Any) -> bool:
    """Mark an answer whose generating process is gone as interrupted; True if it was."""
    updated = Message.objects.filter(
        pk=message_id, status=Message.Status.STREAMING, heartbeat_at__lt=stale_before
    ).update(
        status=Message.Status.INTERRUPTED,
        error=STALE_ERROR,
        owner_channel="",
        finished=timezone.now(),
    )
    return bool(updated)


@transaction.atomic
def set_feedback(user: Any, message: Message, rating: int, comment: str = "") -> Feedback:
    if message.role != Message.Role.ASSISTANT:
        raise ChatError(_("Feedback is for answers only."))
    if rating not in (Feedback.Rating.UP, Feedback.Rating.DOWN):
        raise ChatError(_("Choose thumbs up or thumbs down."))
    comment = comment.strip()
    if len(comment) > 2000:
        raise ChatError(_("A comment can be at most %(n)d characters.") % {"n": 2000})
    feedback, _created = Feedback.objects.update_or_create(
        message=message, user=user, defaults={"rating": rating, "comment": comment}
    )
    return feedback


SEED_ROLES = (Message.Role.USER, Message.Role.ASSISTANT)
MAX_SEED_TURNS = 4
MAX_SEED_TURN_CHARS = 20_000


@transaction.atomic
def seed_conversation(user: Any, title: str, turns: list[dict[str, Any]]) -> Conversation:
    """A new conversation of the user's that starts with earlier turns written elsewhere
    (a scenario run's input and its explanation), so the next question is asked with them as
    history. `turns`: plain data, [{"role": "user"|"assistant", "content": str,
    "citations": [...]}], starting with the user."""
    if not turns or len(turns) > MAX_SEED_TURNS:
        raise ChatError(_("Nothing to continue from."))
    rows = []
    for n, turn in enumerate(turns):
        role, content = turn.get("role"), turn.get("content")
        expected = SEED_ROLES[n % 2]  # chat templates expect user and assistant turns in turn
        if role != expected or not isinstance(content, str) or not content.strip():
            raise ChatError(_("Nothing to continue from."))
        citations = turn.get("citations") if role == Message.Role.ASSISTANT else []
        rows.append(
            Message(
                role=role,
                content=content.strip()[:MAX_SEED_TURN_CHARS],
                citations=citations if isinstance(citations, list) else [],
                status=Message.Status.COMPLETE,
                finished=timezone.now(),
            )
        )
    conversation = Conversation.objects.create(
        user=user, title=title_from(title or rows[0].content)[:MAX_TITLE_CHARS]
    )
    for row in rows:
        row.conversation = conversation
    Message.objects.bulk_create(rows)
    return conversation
