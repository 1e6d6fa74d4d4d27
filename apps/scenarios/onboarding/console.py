"""Admin console: the tracks found in knowledge sources, broken links and unreadable files."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts import audit
from apps.accounts.roles import admin_required
from apps.scenarios.onboarding import sync
from apps.scenarios.onboarding.models import Track, TrackFileProblem
from common.http import HtmxHttpRequest


@require_GET
@admin_required
def index(request: HtmxHttpRequest) -> HttpResponse:
    tracks = list(Track.objects.select_related("source"))
    context = {
        "tracks": tracks,
        "broken": [(t, link) for t in tracks for link in t.broken_links],
        "problems": TrackFileProblem.objects.select_related("source"),
    }
    return render(request, "scenarios/console_onboarding.html", context)


@require_POST
@admin_required
def recheck(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    track = get_object_or_404(Track.objects.select_related("source"), pk=pk)
    sync.check_links(track)
    audit.record(request.user, "onboarding.links_checked", track.name, request=request)
    messages.info(
        request,
        _("Links of %(track)s checked: %(n)d broken.")
        % {"track": track.title, "n": len(track.broken_links)},
    )
    return redirect("onboarding_console:index")
