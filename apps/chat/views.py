"""Chat pages: the conversation list and one conversation; writes go through actions.py.

The answer itself arrives over the websocket (consumers.py); these views only show what is
stored and change conversations (create, rename, delete) and feedback.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.chat import actions, generation
from apps.chat.models import Conversation, Feedback, Message
from apps.inference import relay
from apps.inference.models import AUTO, TIER_CHOICES
from common import handoff
from common.http import HtmxHttpRequest

SIDEBAR_SIZE = 50


def _uid(request: HtmxHttpRequest) -> int:
    # LoginRequiredMiddleware lets only signed-in users reach these views.
    return int(request.user.pk or 0)


def _conversations(request: HtmxHttpRequest) -> tuple[list[Conversation], str]:
    query = request.GET.get("q", "").strip()[:200]
    rows = Conversation.objects.filter(user_id=_uid(request))
    if query:
        rows = rows.filter(title__icontains=query)
    return list(rows[:SIDEBAR_SIZE]), query


def _page(request: HtmxHttpRequest, conversation: Conversation | None) -> HttpResponse:
    conversations, query = _conversations(request)
    if request.htmx and request.htmx.target == "conv-list":
        return render(
            request,
            "chat/index.html#conversations",
            {"conversations": conversations, "q": query, "conversation": conversation},
        )
    rows: list[Message] = []
    if conversation is not None:
        rows = list(conversation.messages.filter(superseded=False))
        feedback = {
            f.message_id: f
            for f in Feedback.objects.filter(user_id=_uid(request), message__in=rows)
        }
        for m in rows:
            m.fb = feedback.get(m.pk)  # type: ignore[attr-defined]
    context = {
        "conversations": conversations,
        "q": query,
        "conversation": conversation,
        "rows": rows,
        "tiers": TIER_CHOICES,
    }
    return render(request, "chat/index.html", context)


@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    """A new conversation (empty composer) beside the list; `?q=` filters the list."""
    return _page(request, None)


@require_GET
def conversation(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _page(request, get_object_or_404(Conversation, pk=pk, user_id=_uid(request)))


@require_POST
def create(request: HtmxHttpRequest) -> HttpResponse:
    """Start a conversation; the page then opens its socket and sends the first message."""
    try:
        conv = actions.create_conversation(
            request.user,
            title=request.POST.get("text", ""),
            knowledge=request.POST.get("knowledge", "on") in ("on", "1", "true"),
            tier=request.POST.get("tier", AUTO),
        )
    except actions.ChatError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    url = reverse("chat:conversation", args=[conv.pk])
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"id": conv.pk, "url": url}, status=201)
    return redirect(url)


# Another app's page hands a conversation's opening turns to chat as a signed hand-off of
# this kind (common/handoff.py), data {"title": str, "turns": [{"role", "content",
# "citations"}]}; see actions.seed_conversation.
SEED_KIND = "chat.seed"


@require_POST
def continue_from(request: HtmxHttpRequest) -> HttpResponse:
    """Open a new conversation seeded with turns from elsewhere (e.g. a scenario run)."""
    try:
        data = handoff.unsign(SEED_KIND, _uid(request), request.POST.get("seed", ""))
        turns = data.get("turns")
        conv = actions.seed_conversation(
            request.user, str(data.get("title", "")), turns if isinstance(turns, list) else []
        )
    except (handoff.BadHandoff, actions.ChatError):
        messages.error(request, _("This link to continue in chat is not valid any more."))
        return redirect("chat:index")
    return redirect("chat:conversation", pk=conv.pk)


@require_POST
def rename(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conv = get_object_or_404(Conversation, pk=pk, user_id=_uid(request))
    error = ""
    try:
        actions.rename_conversation(conv, request.POST.get("title", ""))
    except actions.ChatError as exc:
        error = str(exc)
        conv.refresh_from_db()
    if request.htmx:
        context = {"c": conv, "conversation": conv, "error": error}
        return render(request, "chat/_conversation_item.html", context)
    if error:
        messages.error(request, error)
    return redirect("chat:conversation", pk=conv.pk)


@require_POST
def delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    conv = get_object_or_404(Conversation, pk=pk, user_id=_uid(request))
    streaming = conv.messages.filter(status=Message.Status.STREAMING)
    for message_id, owner in streaming.values_list("id", "owner_channel"):
        # Stop the model too: nobody will read this answer.
        async_to_sync(relay.stop)(f"{generation.Generation.kind}:{message_id}", owner)
    actions.delete_conversation(conv)
    if request.htmx:
        current = request.POST.get("current") == str(pk)
        response = HttpResponse("")
        if current:
            response["HX-Redirect"] = reverse("chat:index")
        return response
    return redirect("chat:index")


@require_POST
def feedback(request: HtmxHttpRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(
        Message, pk=message_id, conversation__user=request.user, role=Message.Role.ASSISTANT
    )
    error = ""
    fb = None
    try:
        rating = int(request.POST.get("rating", "0"))
        fb = actions.set_feedback(request.user, message, rating, request.POST.get("comment", ""))
    except (ValueError, actions.ChatError) as exc:
        error = str(exc) if isinstance(exc, actions.ChatError) else ""
        fb = Feedback.objects.filter(message=message, user_id=_uid(request)).first()
    if request.htmx:
        status = 400 if error else 200
        context = {"m": message, "fb": fb, "error": error}
        return render(request, "chat/_feedback.html", context, status=status)
    if error:
        messages.error(request, error)
    return redirect("chat:conversation", pk=message.conversation_id)
