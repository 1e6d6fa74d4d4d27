"""Admin console pages owned by accounts: overview, users and groups, audit log."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts import actions, lockouts
from apps.accounts.forms import LockoutForm
from apps.accounts.models import AuditEvent
from apps.accounts.roles import admin_required
from common.http import AuthedRequest

User = get_user_model()


@require_GET
@admin_required
def index(request: AuthedRequest) -> HttpResponse:
    context = {
        "user_count": User.objects.filter(is_active=True).count(),
        "group_count": Group.objects.count(),
        "recent": AuditEvent.objects.select_related("actor")[:10],
    }
    return render(request, "accounts/console_index.html", context)


@require_GET
@admin_required
def users(request: AuthedRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    rows = User.objects.prefetch_related("groups").order_by("username")
    if query:
        rows = rows.filter(
            Q(username__icontains=query)
            | Q(email__icontains=query)
            | Q(groups__name__icontains=query)
        ).distinct()
    groups = Group.objects.annotate(members=Count("user")).order_by("name")
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    template = "accounts/console_users.html#rows" if request.htmx else "accounts/console_users.html"
    return render(request, template, {"page": page, "groups": groups, "q": query})


@require_GET
@admin_required
def audit_log(request: AuthedRequest) -> HttpResponse:
    rows = AuditEvent.objects.select_related("actor")
    action = request.GET.get("action", "").strip()
    who = request.GET.get("who", "").strip()
    if action:
        rows = rows.filter(action=action)
    if who:
        rows = rows.filter(actor_name__icontains=who)
    actions = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    template = "accounts/console_audit.html#rows" if request.htmx else "accounts/console_audit.html"
    context = {"page": page, "actions": sorted(actions), "action": action, "who": who}
    return render(request, template, context)


@require_GET
@admin_required
def lockouts_view(request: AuthedRequest) -> HttpResponse:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"lockouts": lockouts.current(), "minutes": minutes}
    return render(request, "accounts/console_lockouts.html", context)


@require_POST
@admin_required
def lockout_remove(request: AuthedRequest) -> HttpResponse:
    form = LockoutForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())
        messages.error(request, _("Nothing removed: %(errors)s") % {"errors": errors})
        return redirect("console:lockouts")
    username, ip = form.cleaned_data["username"], form.cleaned_data["ip"]
    if actions.remove_lockout(request.user, username, ip, request=request):
        messages.success(
            request, _("Lockout of %(user)s at %(ip)s removed.") % {"user": username, "ip": ip}
        )
    else:
        messages.error(request, _("No such lockout: it may have expired already."))
    return redirect("console:lockouts")
