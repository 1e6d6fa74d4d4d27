"""Admin console page "LLM backends": live status, add, edit, enable and disable."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.roles import admin_required
from apps.inference import actions, state
from apps.inference.forms import BackendForm
from apps.inference.models import Backend, LLMCall
from common.http import AuthedRequest

# The poller's problem codes (poller.PROBLEMS, state.py), worded for the reader.
PROBLEM_LABELS = {
    "unreachable": gettext_lazy("health check failed"),
    "unhealthy": gettext_lazy("health endpoint reports a problem"),
    "auth": gettext_lazy("API key refused"),
    "model": gettext_lazy("served model not found"),
    "not_polled": gettext_lazy("not polled yet"),
    "stale": gettext_lazy("no recent poll: is the poller running?"),
}
REFRESH_SECONDS = 3


def _rows() -> list[dict[str, Any]]:
    states = {s.name: s for s in state.backend_states(enabled_only=False)}
    rows = []
    for backend in Backend.objects.all():
        live = states.get(backend.name)
        if live is None:  # added between the two queries; shown on the next refresh
            continue
        kv = live.kv_cache_usage
        rows.append(
            {
                "backend": backend,
                "state": live,
                "problem": PROBLEM_LABELS.get(live.problem, ""),
                "kv_percent": round(kv * 100) if kv is not None else None,
            }
        )
    return rows


@require_GET
@admin_required
def backends(request: AuthedRequest) -> HttpResponse:
    context = {"rows": _rows(), "refresh": REFRESH_SECONDS}
    if request.htmx:
        return render(request, "inference/console_backends.html#rows", context)
    context["calls"] = LLMCall.objects.select_related("user")[:15]
    return render(request, "inference/console_backends.html", context)


@require_http_methods(["GET", "POST"])
@admin_required
def backend_new(request: AuthedRequest) -> HttpResponse:
    form = BackendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        backend = actions.create_backend(request.user, form, request)
        messages.success(request, _("Backend %(name)s added.") % {"name": backend.name})
        return redirect("inference:backends")
    return render(request, "inference/console_backend_form.html", {"form": form, "backend": None})


@require_http_methods(["GET", "POST"])
@admin_required
def backend_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    backend = get_object_or_404(Backend, pk=pk)
    form = BackendForm(request.POST or None, instance=backend)
    if request.method == "POST" and form.is_valid():
        actions.update_backend(request.user, form, request)
        messages.success(request, _("Backend %(name)s saved.") % {"name": backend.name})
        return redirect("inference:backends")
    return render(
        request, "inference/console_backend_form.html", {"form": form, "backend": backend}
    )


@require_POST
@admin_required
def backend_toggle(request: AuthedRequest, pk: int) -> HttpResponse:
    get_object_or_404(Backend, pk=pk)
    enabled = request.POST.get("enabled") == "1"
    actions.set_enabled(request.user, pk, enabled, request)
    if request.htmx:
        return render(
            request,
            "inference/console_backends.html#rows",
            {"rows": _rows(), "refresh": REFRESH_SECONDS},
        )
    return redirect("inference:backends")
