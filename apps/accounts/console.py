"""Admin console pages owned by accounts: overview, users and groups, audit log."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.models import AuditEvent
from apps.accounts.roles import admin_required
from portal.http import HtmxHttpRequest

User = get_user_model()


@require_GET
@admin_required
def index(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "user_count": User.objects.filter(is_active=True).count(),
        "group_count": Group.objects.count(),
        "recent": AuditEvent.objects.select_related("actor")[:10],
    }
    return render(request, "console/index.html", context)


@require_GET
@admin_required
def users(request: HtmxHttpRequest) -> HttpResponse:
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
    template = "console/users.html#rows" if request.htmx else "console/users.html"
    return render(request, template, {"page": page, "groups": groups, "q": query})


@require_GET
@admin_required
def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    rows = AuditEvent.objects.select_related("actor")
    action = request.GET.get("action", "").strip()
    who = request.GET.get("who", "").strip()
    if action:
        rows = rows.filter(action=action)
    if who:
        rows = rows.filter(actor_name__icontains=who)
    actions = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    template = "console/audit.html#rows" if request.htmx else "console/audit.html"
    context = {"page": page, "actions": sorted(actions), "action": action, "who": who}
    return render(request, template, context)
