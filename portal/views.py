"""Home page and the operational endpoints (/healthz, /readyz, /metrics)."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from apps.accounts.roles import is_portal_admin
from common import health


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
    if not is_portal_admin(getattr(request, "user", None)):
        # Probes need only the verdict. The details (paths on the server, backend
        # addresses, driver errors) are for admins, not for anyone who can reach the port.
        checks = {name: {"ok": c["ok"], "required": c["required"]} for name, c in checks.items()}
    return JsonResponse(
        {"status": "ok" if ready else "failing", "checks": checks}, status=200 if ready else 503
    )


def metrics_refusal(request: HttpRequest) -> HttpResponse | None:
    """METRICS_ALLOWED_NETWORKS and METRICS_TOKEN, each enforced when set (both when both)."""
    networks = settings.METRICS_ALLOWED_NETWORKS
    if networks:
        try:
            ip = ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "")
        except ValueError:
            ip = None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if ip is None or not any(ip.version == n.version and ip in n for n in networks):
            return HttpResponseForbidden("metrics are not served to this address\n")
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            response = HttpResponse("a bearer token is required\n", status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return None


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    # No session sign-in, like every Prometheus target: limited by METRICS_ALLOWED_NETWORKS
    # and/or METRICS_TOKEN instead (the client address is the one common/proxies.py settled).
    refused = metrics_refusal(request)
    if refused is not None:
        return refused
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
