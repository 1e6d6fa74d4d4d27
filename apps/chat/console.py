"""Admin console pages of the chat (under /admin-console/, see console_urls.py)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.roles import admin_required
from apps.chat.models import Feedback
from common.http import HtmxHttpRequest


@require_GET
@admin_required
def feedback(request: HtmxHttpRequest) -> HttpResponse:
    """Admin console: what users said about answers, newest first."""
    rows = Feedback.objects.select_related("user", "message", "message__conversation")
    rating = request.GET.get("rating", "")
    if rating in ("1", "-1"):
        rows = rows.filter(rating=int(rating))
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    totals = {
        "up": Feedback.objects.filter(rating=Feedback.Rating.UP).count(),
        "down": Feedback.objects.filter(rating=Feedback.Rating.DOWN).count(),
    }
    template = "chat/console_feedback.html#rows" if request.htmx else "chat/console_feedback.html"
    return render(request, template, {"page": page, "rating": rating, "totals": totals})
