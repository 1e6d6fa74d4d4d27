"""Admin console: what users said about scenario explanations (/admin-console/scenarios/feedback/)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.roles import admin_required
from apps.scenarios.engine import registry
from apps.scenarios.models import Run
from common.http import HtmxHttpRequest


@require_GET
@admin_required
def feedback(request: HtmxHttpRequest) -> HttpResponse:
    """Rated explanations, newest first, by scenario and rating; totals per scenario."""
    rated = Run.objects.filter(rating__isnull=False)
    rows = rated.select_related("user").order_by("-finished", "-id")
    rating, slug = request.GET.get("rating", ""), request.GET.get("scenario", "")
    if rating in ("1", "-1"):
        rows = rows.filter(rating=int(rating))
    if slug:
        rows = rows.filter(scenario=slug)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    totals = rated.values("scenario").annotate(
        up=Count("id", filter=Q(rating=1)), down=Count("id", filter=Q(rating=-1))
    )
    titles = {s: str(sc.title) for s, sc in registry.available().items()}
    context = {
        "page": page,
        "rating": rating,
        "scenario": slug,
        "titles": titles,
        "totals": [{**t, "title": titles.get(t["scenario"], t["scenario"])} for t in totals],
    }
    template = "scenarios/console_feedback.html"
    return render(request, f"{template}#rows" if request.htmx else template, context)
