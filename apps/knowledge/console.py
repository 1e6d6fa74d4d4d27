"""Admin console pages for knowledge sources (admin only, every write audited)."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Max, Q, Sum
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.roles import admin_required
from apps.knowledge import actions, tasks
from apps.knowledge.forms import GlossaryForm, SourceForm
from apps.knowledge.models import GlossaryEntry, IndexJob, Source
from portal.http import HtmxHttpRequest


def _rows() -> list[dict[str, object]]:
    sources = (
        Source.objects.prefetch_related("allowed_groups")
        .annotate(
            doc_count=Count("documents", filter=Q(documents__error="")),
            error_count=Count("documents", filter=~Q(documents__error="")),
            chunk_count=Sum("documents__chunk_count"),
        )
        .order_by("name")
    )
    last_ids = (
        IndexJob.objects.values("source_id").annotate(last=Max("pk")).values_list("last", flat=True)
    )
    latest = {job.source_id: job for job in IndexJob.objects.filter(pk__in=list(last_ids))}
    return [{"source": s, "job": latest.get(s.pk)} for s in sources]


@require_GET
@admin_required
def sources(request: HtmxHttpRequest) -> HttpResponse:
    tasks.ensure_scheduler()
    template = (
        "knowledge/console_sources.html#rows" if request.htmx else "knowledge/console_sources.html"
    )
    return render(request, template, {"rows": _rows()})


@require_http_methods(["GET", "POST"])
@admin_required
def source_form(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk) if pk else None
    if request.method == "POST":
        form = SourceForm(request.POST, request.FILES, instance=source)
        if form.is_valid():
            kind = source.type if source else form.cleaned_data["type"]
            saved = actions.save_source(
                request.user,
                source=source,
                name=form.cleaned_data["name"],
                type=kind,
                settings=form.source_settings(),
                groups=form.group_names(),
                enabled=form.cleaned_data["enabled"],
                schedule_minutes=form.cleaned_data["schedule_minutes"],
                secrets=form.secrets(),
                request=request,
            )
            files = form.cleaned_data.get("upload") or []
            if files:
                actions.save_uploads(request.user, saved, files, request=request)
            if source is None or files:
                actions.start_job(request.user, saved, request=request)
            messages.success(request, _("Source saved."))
            return redirect("knowledge_console:sources")
    else:
        form = SourceForm(
            instance=source,
            initial=None if source else {"type": request.GET.get("type", "directory")},
        )
    jobs = IndexJob.objects.filter(source=source)[:5] if source else []
    failed_docs = source.documents.exclude(error="")[:200] if source else []
    context = {"form": form, "source": source, "jobs": jobs, "failed_docs": failed_docs}
    return render(request, "knowledge/console_source_form.html", context)


@require_POST
@admin_required
def source_action(request: HtmxHttpRequest, pk: int, action: str) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    if action == "sync":
        actions.start_job(request.user, source, IndexJob.Kind.SYNC, request=request)
        messages.success(request, _("Sync started."))
    elif action == "rebuild":
        actions.start_job(request.user, source, IndexJob.Kind.REBUILD, request=request)
        messages.success(request, _("Rebuild started."))
    elif action == "pause":
        actions.pause(request.user, source, request=request)
        messages.success(request, _("Paused: the running job stops after its current document."))
    elif action == "delete":
        actions.delete_source(request.user, source, request=request)
        messages.success(request, _("Source deleted with its index."))
    else:
        return HttpResponseBadRequest("unknown action")
    if request.htmx:
        return render(request, "knowledge/console_sources.html#rows", {"rows": _rows()})
    return redirect("knowledge_console:sources")


@require_http_methods(["GET", "POST"])
@admin_required
def glossary_view(request: HtmxHttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = GlossaryForm(request.POST)
        if form.is_valid():
            count = actions.save_glossary(request.user, form.cleaned_data["text"], request=request)
            messages.success(
                request, _("Glossary saved: %(count)d sets of terms.") % {"count": count}
            )
            return redirect("knowledge_console:glossary")
    else:
        text = "\n".join(e.terms for e in GlossaryEntry.objects.order_by("terms"))
        form = GlossaryForm(initial={"text": text})
    return render(request, "knowledge/console_glossary.html", {"form": form})
