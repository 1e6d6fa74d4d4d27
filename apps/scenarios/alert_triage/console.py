"""Admin console: webhook tokens, chat destinations and how their deliveries fare."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts import audit
from apps.accounts.roles import admin_required
from apps.scenarios.alert_triage import crypto, tokens
from apps.scenarios.alert_triage.forms import DestinationForm, TokenForm
from apps.scenarios.alert_triage.models import AlertToken, Delivery, Destination
from common.http import HtmxHttpRequest


def _context(request: HtmxHttpRequest, token_form: TokenForm | None = None) -> dict[str, object]:
    dests = Destination.objects.annotate(
        sent=Count("deliveries", filter=Q(deliveries__state=Delivery.State.SENT)),
        failed=Count("deliveries", filter=Q(deliveries__state=Delivery.State.FAILED)),
        retrying=Count("deliveries", filter=Q(deliveries__state=Delivery.State.RETRYING)),
    )
    return {
        "tokens": AlertToken.objects.all()[:100],
        "token_form": token_form or TokenForm(),
        "destinations": dests,
        "failures": Delivery.objects.filter(
            state__in=(Delivery.State.FAILED, Delivery.State.RETRYING)
        ).select_related("destination", "alert")[:20],
        "webhook_url": request.build_absolute_uri(reverse("alert_webhook")),
    }


@require_GET
@admin_required
def index(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "scenarios/console_alert_triage.html", _context(request))


@require_POST
@admin_required
def token_new(request: HtmxHttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        return render(
            request, "scenarios/console_alert_triage.html", _context(request, form), status=400
        )
    token, raw = tokens.create(form.cleaned_data["name"], actor=request.user)
    context = _context(request)
    context["new_token"] = raw
    context["new_token_name"] = token.name
    return render(request, "scenarios/console_alert_triage.html", context)


@require_POST
@admin_required
def token_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(AlertToken, pk=pk)
    if tokens.revoke(pk, request.user):
        messages.success(request, _("Token revoked: webhooks using it are refused from now on."))
    return redirect("alert_triage_console:index")


@require_http_methods(["GET", "POST"])
@admin_required
def destination_form(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    dest = get_object_or_404(Destination, pk=pk) if pk else None
    form = DestinationForm(request.POST or None, instance=dest)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save(commit=False)
            if form.cleaned_data["url"]:
                saved.url_encrypted = crypto.encrypt(form.cleaned_data["url"])
                saved.url_hint = form.url_hint()
            saved.save()
            audit.record(
                request.user,
                "alert_destination_saved",
                target=saved.name,
                details={"kind": saved.kind, "matchers": saved.matchers},
                request=request,
            )
        messages.success(request, _("Destination %(name)s saved.") % {"name": saved.name})
        return redirect("alert_triage_console:index")
    return render(
        request, "scenarios/console_alert_destination.html", {"form": form, "destination": dest}
    )


@require_POST
@admin_required
def destination_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    dest = get_object_or_404(Destination, pk=pk)
    with transaction.atomic():
        audit.record(request.user, "alert_destination_deleted", target=dest.name, request=request)
        dest.delete()
    messages.success(request, _("Destination %(name)s deleted.") % {"name": dest.name})
    return redirect("alert_triage_console:index")
