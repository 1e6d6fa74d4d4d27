"""Admin console pages for knowledge sources (admin only, every write audited)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.roles import admin_required
from apps.knowledge.models import Source
from portal.http import HtmxHttpRequest


@require_GET
@admin_required
def sources(request: HtmxHttpRequest) -> HttpResponse:
    rows = Source.objects.prefetch_related("allowed_groups")
    return render(request, "knowledge/console_sources.html", {"sources": rows})
