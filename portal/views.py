"""Home page and the operational endpoints (/healthz, /readyz, /metrics)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from portal import health


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    checks = health.run_checks()
    ready = all(c["ok"] for c in checks.values() if c["required"])
    return JsonResponse(
        {"status": "ok" if ready else "failing", "checks": checks}, status=200 if ready else 503
    )


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    # Unauthenticated like every Prometheus target; deploy/ keeps it off the public listener.
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
