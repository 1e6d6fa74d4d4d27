"""Admin console: whether the Slack app and the Mattermost bot are configured (which settings
are missing, never their values), the request URLs to enter in them, and the linked accounts."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from apps.accounts.models import MessengerIdentity
from apps.accounts.roles import admin_required
from apps.scenarios.messenger import answer
from common.http import HtmxHttpRequest


def _missing(*names: str) -> list[str]:
    return [name for name in names if not getattr(settings, name)]


@require_GET
@admin_required
def index(request: HtmxHttpRequest) -> HttpResponse:
    base = answer.base_url(request.build_absolute_uri("/"))
    slack_missing = _missing("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")
    mm_missing = _missing("MATTERMOST_URL", "MATTERMOST_BOT_TOKEN")
    if not (settings.MATTERMOST_COMMAND_TOKEN or settings.MATTERMOST_WEBHOOK_TOKEN):
        mm_missing.append("MATTERMOST_COMMAND_TOKEN / MATTERMOST_WEBHOOK_TOKEN")
    messengers = [
        {
            "name": "Slack",
            "configured": not slack_missing,
            "missing": slack_missing,
            "api": settings.SLACK_API_URL,
            "urls": [
                (_("Slash command Request URL"), base + reverse("messenger:slack_command")),
                (_("Event Subscriptions Request URL"), base + reverse("messenger:slack_events")),
            ],
            "linked": MessengerIdentity.objects.filter(kind="slack").count(),
        },
        {
            "name": "Mattermost",
            "configured": not mm_missing,
            "missing": mm_missing,
            "api": settings.MATTERMOST_URL,
            "urls": [
                (_("Slash command Request URL"), base + reverse("messenger:mattermost_command")),
                (
                    _("Outgoing webhook Callback URL"),
                    base + reverse("messenger:mattermost_webhook"),
                ),
            ],
            "linked": MessengerIdentity.objects.filter(kind="mattermost").count(),
        },
    ]
    accounts = MessengerIdentity.objects.select_related("user").order_by("-linked")[:200]
    return render(
        request,
        "scenarios/console_messenger.html",
        {"messengers": messengers, "accounts": accounts},
    )
