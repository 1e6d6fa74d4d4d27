"""Admin console pages of the Redis targets (admin only, every write audited)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.roles import admin_required
from apps.knowledge.crypto import SecretsUnreadable
from apps.scenarios.redis_advice import actions, collect
from apps.scenarios.redis_advice.forms import RedisTargetForm
from apps.scenarios.redis_advice.models import RedisTarget
from common.http import HtmxHttpRequest


@require_GET
@admin_required
def targets(request: HtmxHttpRequest) -> HttpResponse:
    rows = RedisTarget.objects.prefetch_related("allowed_groups")
    return render(request, "scenarios/console_redis_targets.html", {"targets": rows})


@require_http_methods(["GET", "POST"])
@admin_required
def target_form(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    target = get_object_or_404(RedisTarget, pk=pk) if pk else None
    form = RedisTargetForm(request.POST or None, instance=target)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actions.save_target(
            request.user,
            target=target,
            name=data["name"],
            url=data["url"],
            groups=data["groups"],
            enabled=data["enabled"],
            max_keys=data["max_keys"],
            scan_seconds=data["scan_seconds"],
            password=data["password"],
            clear_password=data["clear_password"],
            request=request,
        )
        messages.success(request, _("Redis target saved."))
        return redirect("redis_targets:list")
    return render(
        request, "scenarios/console_redis_target_form.html", {"form": form, "target": target}
    )


@require_POST
@admin_required
def target_test(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Connects and reads INFO, so an admin sees at once whether URL and password work."""
    target = get_object_or_404(RedisTarget, pk=pk)
    try:
        facts = collect.probe(actions.connection(target))
    except (collect.Unreachable, SecretsUnreadable) as exc:
        messages.error(
            request, _("%(name)s cannot be read: %(error)s") % {"name": target.name, "error": exc}
        )
    else:
        messages.success(
            request,
            _("%(name)s answers: Redis %(version)s, %(role)s, %(memory)s used.")
            % {
                "name": target.name,
                "version": facts["redis_version"],
                "role": facts["role"],
                "memory": facts["used_memory_human"],
            },
        )
    return redirect("redis_targets:list")


@require_POST
@admin_required
def target_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    actions.delete_target(request.user, get_object_or_404(RedisTarget, pk=pk), request=request)
    messages.success(request, _("Redis target deleted."))
    return redirect("redis_targets:list")
