"""The messenger's webhooks: Slack's slash command and Events API, Mattermost's slash command
and outgoing webhook. Each answers at once (Slack gives up after three seconds) and leaves
the answer to a background job (tasks.py).

Order of checks, the same in each: the messenger is configured (else 404), the body is at
most MESSENGER_MAX_BODY_BYTES (else 400, before it is read), the request is signed by Slack
or carries Mattermost's token (else 401; a timestamp older than five minutes is a replay),
the body parses and has the fields the documented format has (else 400 naming the field).
Then an unlinked messenger user gets a one-time link and no answer; a linked one gets
"looking for an answer" and the answer in the thread.

Jobs (tasks.py): {"kind", "id" (of the request, so it is answered once), "team", "user", "user_name", "channel", "question", "base",
"private"} and, for Slack, "thread_ts", "command", "response_url"; for Mattermost,
"post_id" (empty for the slash command).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from prometheus_client import Counter

from apps.accounts import messenger as links
from apps.scenarios.messenger import answer, mattermost, replies, slack, tasks, verify

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 60
MAX_FIELD = 4000  # a question is cut at answer.MAX_QUESTION; ids are short
_SLACK_MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")
REQUESTS = Counter(
    "opsdesk_messenger_requests_total",
    "Messenger webhook calls by messenger, endpoint and outcome",
    ["kind", "endpoint", "outcome"],
)


class BadRequest(ValueError):
    pass


def _refuse(kind: str, endpoint: str, status: int, reason: str, message: str) -> JsonResponse:
    REQUESTS.labels(kind, endpoint, reason).inc()
    return JsonResponse({"error": message}, status=status)


def _read(request: HttpRequest) -> bytes:
    """The body, refused before it is read when it is declared (or turns out) too large."""
    limit = settings.MESSENGER_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest("Content-Length is not a number") from None
    if declared > limit:
        raise BadRequest(f"the body is over {limit} bytes")
    body = request.body
    if len(body) > limit:
        raise BadRequest(f"the body is over {limit} bytes")
    return body


def _form(body: bytes, request: HttpRequest) -> dict[str, str]:
    if request.content_type != FORM:
        raise BadRequest(f"Content-Type {request.content_type!r}: expected {FORM}")
    try:
        text = body.decode("utf-8")
        pairs = parse_qs(
            text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"the body is not a URL-encoded form: {exc}") from None
    return {k: v[0] for k, v in pairs.items() if v}


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body is not a JSON object")
    return data


def _field(data: dict[str, Any], name: str, required: bool = True) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or len(value) > MAX_FIELD:
        raise BadRequest(f"{name}: not a string of at most {MAX_FIELD} characters")
    if required and not value:
        raise BadRequest(f"{name}: missing")
    return value


def _base(request: HttpRequest) -> str:
    return answer.base_url(request.build_absolute_uri("/"))


def _ephemeral(text: str) -> JsonResponse:
    # The slash-command reply format both Slack and Mattermost document.
    return JsonResponse({"response_type": "ephemeral", "text": text})


def _too_long(question: str) -> str:
    if len(question) > answer.MAX_QUESTION:
        return _("A question is at most %(n)d characters.") % {"n": answer.MAX_QUESTION}
    return ""


# --- Slack ------------------------------------------------------------------------------------


def _slack_checked(request: HttpRequest, endpoint: str) -> bytes | JsonResponse:
    if not slack.configured():
        return _refuse("slack", endpoint, 404, "off", "Slack is not configured")
    try:
        body = _read(request)
    except BadRequest as exc:
        return _refuse("slack", endpoint, 400, "bad", str(exc))
    reason = verify.slack(
        settings.SLACK_SIGNING_SECRET,
        request.headers.get("X-Slack-Request-Timestamp", ""),
        body,
        request.headers.get("X-Slack-Signature", ""),
    )
    if reason:
        log.warning("slack %s refused: %s", endpoint, reason)
        return _refuse("slack", endpoint, 401, reason, f"request signature: {reason}")
    return body


@csrf_exempt
@login_not_required
@require_POST
def slack_command(request: HttpRequest) -> HttpResponse:
    """A Slack slash command (application/x-www-form-urlencoded, signed)."""
    checked = _slack_checked(request, "command")
    if isinstance(checked, HttpResponse):
        return checked
    with translation.override(settings.MESSENGER_LANGUAGE):
        try:
            form = _form(checked, request)
            if form.get("ssl_check") == "1":
                return HttpResponse(status=200)  # Slack checking the certificate
            team, user = _field(form, "team_id"), _field(form, "user_id")
            channel = _field(form, "channel_id")
            question = _field(form, "text", required=False).strip()
            response_url = _field(form, "response_url", required=False)
            user_name = _field(form, "user_name", required=False)
            command = _field(form, "command", required=False) or "/onboarding"
            channel_name = _field(form, "channel_name", required=False)
        except BadRequest as exc:
            return _refuse("slack", "command", 400, "bad", str(exc))
        identity = links.identity_for("slack", team, user)
        if identity is None:
            REQUESTS.labels("slack", "command", "link").inc()
            code = links.offer_link("slack", team, user, user_name)
            return _ephemeral(
                slack.escape(replies.link_offer("slack", replies.link_url(_base(request), code)))
            )
        if not question:
            return _ephemeral(slack.escape(replies.usage(command)))
        if problem := _too_long(question):
            return _ephemeral(slack.escape(problem))
        private = channel.startswith("D") or channel_name == "directmessage"
        job = {
            "kind": "slack",
            "id": uuid.uuid4().hex,
            "team": team,
            "user": user,
            "user_name": user_name or user,
            "channel": channel,
            "thread_ts": "",
            "question": question,
            "response_url": response_url,
            "command": True,
            "private": private,
            "base": _base(request),
        }
        tasks.dispatch(tasks.slack_answer, job)
        REQUESTS.labels("slack", "command", "asked").inc()
        return _ephemeral(slack.escape(replies.looking()))


@csrf_exempt
@login_not_required
@require_POST
def slack_events(request: HttpRequest) -> HttpResponse:
    """Slack's Events API (JSON, signed): the URL check, app_mention in a channel, and
    message in a direct message with the app."""
    checked = _slack_checked(request, "events")
    if isinstance(checked, HttpResponse):
        return checked
    try:
        payload = _json(checked)
        kind = _field(payload, "type")
        if kind == "url_verification":
            return JsonResponse({"challenge": _field(payload, "challenge")})
        if request.headers.get("X-Slack-Retry-Num"):
            # Slack resends what it thinks went unanswered; every event was taken the first
            # time (the answer is quick), so a retry would answer twice.
            return HttpResponse(status=200)
        if kind != "event_callback":
            return HttpResponse(status=200)
        event = payload.get("event")
        if not isinstance(event, dict):
            raise BadRequest("event: not an object")
        etype = _field(event, "type")
        private = event.get("channel_type") == "im"
        if etype not in ("app_mention", "message") or (etype == "message" and not private):
            return HttpResponse(status=200)
        if event.get("bot_id") or event.get("subtype"):
            return HttpResponse(status=200)  # the bot's own posts, edits, joins: not questions
        team = _field(payload, "team_id")
        user, channel = _field(event, "user"), _field(event, "channel")
        ts = _field(event, "ts")
        thread_ts = _field(event, "thread_ts", required=False) or ts
        question = _SLACK_MENTION.sub("", _field(event, "text", required=False)).strip()
    except BadRequest as exc:
        return _refuse("slack", "events", 400, "bad", str(exc))
    job = {
        "kind": "slack",
        "id": uuid.uuid4().hex,
        "team": team,
        "user": user,
        "user_name": user,
        "channel": channel,
        "thread_ts": thread_ts,
        "question": question,
        "command": False,
        "private": private,
        "base": _base(request),
    }
    if links.identity_for("slack", team, user) is None:
        REQUESTS.labels("slack", "events", "link").inc()
        tasks.dispatch(tasks.slack_link, job)
    elif question and not _too_long(question):
        REQUESTS.labels("slack", "events", "asked").inc()
        tasks.dispatch(tasks.slack_answer, job)
    return HttpResponse(status=200)


# --- Mattermost -------------------------------------------------------------------------------


def _mattermost_data(
    request: HttpRequest, endpoint: str, expected: str
) -> dict[str, Any] | JsonResponse:
    if not mattermost.configured() or not expected:
        return _refuse("mattermost", endpoint, 404, "off", "Mattermost is not configured")
    try:
        body = _read(request)
        # Slash commands post a form; outgoing webhooks a form or JSON, as the admin chose.
        data: dict[str, Any] = (
            _json(body) if request.content_type == "application/json" else _form(body, request)
        )
    except BadRequest as exc:
        return _refuse("mattermost", endpoint, 400, "bad", str(exc))
    token = data.get("token")
    if not verify.token(expected, token if isinstance(token, str) else ""):
        log.warning("mattermost %s refused: wrong token", endpoint)
        return _refuse("mattermost", endpoint, 401, "forged", "wrong or missing token")
    return data


@csrf_exempt
@login_not_required
@require_POST
def mattermost_command(request: HttpRequest) -> HttpResponse:
    """A Mattermost slash command (form, with the command's token)."""
    data = _mattermost_data(request, "command", settings.MATTERMOST_COMMAND_TOKEN)
    if isinstance(data, HttpResponse):
        return data
    with translation.override(settings.MESSENGER_LANGUAGE):
        try:
            user, channel = _field(data, "user_id"), _field(data, "channel_id")
            user_name = _field(data, "user_name", required=False)
            question = _field(data, "text", required=False).strip()
            command = _field(data, "command", required=False) or "/onboarding"
        except BadRequest as exc:
            return _refuse("mattermost", "command", 400, "bad", str(exc))
        if links.identity_for("mattermost", "", user) is None:
            REQUESTS.labels("mattermost", "command", "link").inc()
            code = links.offer_link("mattermost", "", user, user_name)
            return _ephemeral(
                replies.link_offer("mattermost", replies.link_url(_base(request), code))
            )
        if not question:
            return _ephemeral(replies.usage(command))
        if problem := _too_long(question):
            return _ephemeral(problem)
        job = {
            "kind": "mattermost",
            "id": uuid.uuid4().hex,
            "team": "",
            "user": user,
            "user_name": user_name or user,
            "channel": channel,
            "post_id": "",
            "question": question,
            "base": _base(request),
        }
        tasks.dispatch(tasks.mattermost_answer, job)
        REQUESTS.labels("mattermost", "command", "asked").inc()
        return _ephemeral(replies.looking())


@csrf_exempt
@login_not_required
@require_POST
def mattermost_webhook(request: HttpRequest) -> HttpResponse:
    """A Mattermost outgoing webhook (a post starting with its trigger word)."""
    data = _mattermost_data(request, "webhook", settings.MATTERMOST_WEBHOOK_TOKEN)
    if isinstance(data, HttpResponse):
        return data
    try:
        user, channel = _field(data, "user_id"), _field(data, "channel_id")
        post_id = _field(data, "post_id")
        user_name = _field(data, "user_name", required=False)
        text = _field(data, "text", required=False).strip()
        trigger = _field(data, "trigger_word", required=False)
    except BadRequest as exc:
        return _refuse("mattermost", "webhook", 400, "bad", str(exc))
    if trigger and text.startswith(trigger):
        text = text[len(trigger) :].strip()
    job = {
        "kind": "mattermost",
        "id": uuid.uuid4().hex,
        "team": "",
        "user": user,
        "user_name": user_name or user,
        "channel": channel,
        "post_id": post_id,
        "question": text,
        "base": _base(request),
    }
    if links.identity_for("mattermost", "", user) is None:
        REQUESTS.labels("mattermost", "webhook", "link").inc()
        tasks.dispatch(tasks.mattermost_link, job)
    elif text and not _too_long(text):
        REQUESTS.labels("mattermost", "webhook", "asked").inc()
        tasks.dispatch(tasks.mattermost_answer, job)
    # An empty object: Mattermost posts nothing in reply; the answer comes in the thread.
    return JsonResponse({})
