"""Admin console pages of the RabbitMQ targets (admin only, every write audited)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.roles import admin_required
from apps.knowledge.crypto import SecretsUnreadable
from apps.scenarios.engine.base import InputError
from apps.scenarios.migration import actions, live
from apps.scenarios.migration.models import RabbitTarget
from apps.scenarios.migration.target_form import RabbitTargetForm
from common.http import HtmxHttpRequest


@require_GET
@admin_required
def targets(request: HtmxHttpRequest) -> HttpResponse:
    rows = RabbitTarget.objects.prefetch_related("allowed_groups")
    return render(request, "scenarios/console_rabbit_targets.html", {"targets": rows})


@require_http_methods(["GET", "POST"])
@admin_required
def target_form(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    target = get_object_or_404(RabbitTarget, pk=pk) if pk else None
    form = RabbitTargetForm(request.POST or None, instance=target)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actions.save_target(
            request.user,
            target=target,
            name=data["name"],
            url=data["url"],
            username=data["username"],
            ca_file=data["ca_file"],
            groups=data["groups"],
            enabled=data["enabled"],
            password=data["password"],
            clear_password=data["clear_password"],
            request=request,
        )
        messages.success(request, _("RabbitMQ target saved."))
        return redirect("rabbit_targets:list")
    return render(
        request, "scenarios/console_rabbit_target_form.html", {"form": form, "target": target}
    )


@require_POST
@admin_required
def target_test(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Reads the node as the checklist would, so an admin sees at once whether it works."""
    target = get_object_or_404(RabbitTarget, pk=pk)
    try:
        facts = live.read(target.url, target.username, target.password(), target.ca_file)
    except (live.Unreachable, SecretsUnreadable, InputError) as exc:
        messages.error(
            request, _("%(name)s cannot be read: %(error)s") % {"name": target.name, "error": exc}
        )
    else:
        text = _(
            "%(name)s answers: RabbitMQ %(version)s on Erlang %(erlang)s, %(n)d feature flags."
        ) % {
            "name": target.name,
            "version": facts["version"],
            "erlang": facts["erlang"],
            "n": len(facts.get("feature_flags") or []),
        }
        if "feature_flags" in facts.get("unread", []):
            text += " " + _(
                "Feature flags could not be read: the user needs the administrator tag."
            )
        messages.success(request, text)
    return redirect("rabbit_targets:list")


@require_POST
@admin_required
def target_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    actions.delete_target(request.user, get_object_or_404(RabbitTarget, pk=pk), request=request)
    messages.success(request, _("RabbitMQ target deleted."))
    return redirect("rabbit_targets:list")
