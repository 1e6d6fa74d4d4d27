"""Admin console pages for knowledge sources (admin only, every write audited)."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Max, Q, Sum
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.roles import admin_required
from apps.knowledge import actions
from apps.knowledge.forms import GlossaryForm, SourceForm
from apps.knowledge.models import GlossaryEntry, GlossaryRevision, IndexJob, Source
from common.http import HtmxHttpRequest


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
                tags=form.cleaned_data["tags"],
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
    latest = GlossaryRevision.objects.order_by("-pk").first()
    conflict = None
    if request.method == "POST":
        form = GlossaryForm(request.POST)
        if form.is_valid():
            try:
                count = actions.save_glossary(
                    request.user,
                    form.cleaned_data["text"],
                    request=request,
                    base=form.cleaned_data["base"],
                )
            except actions.GlossaryConflict as exc:
                # Nothing is lost: the page shows this admin's text again, to merge.
                conflict = exc.latest
                form = GlossaryForm(
                    initial={
                        "text": form.cleaned_data["text"],
                        "base": conflict.pk if conflict else "none",
                    }
                )
            else:
                messages.success(
                    request, _("Glossary saved: %(count)d sets of terms.") % {"count": count}
                )
                return redirect("knowledge_console:glossary")
    else:
        text = "\n".join(e.terms for e in GlossaryEntry.objects.order_by("terms"))
        form = GlossaryForm(initial={"text": text, "base": latest.pk if latest else "none"})
    context = {
        "form": form,
        "conflict": conflict,
        "revisions": GlossaryRevision.objects.select_related("reverted_from")[:50],
        "current": latest.pk if latest else None,
    }
    return render(request, "knowledge/console_glossary.html", context)


@require_POST
@admin_required
def glossary_revert(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    revision = get_object_or_404(GlossaryRevision, pk=pk)
    count = actions.revert_glossary(request.user, revision, request=request)
    messages.success(
        request,
        _("Glossary reverted to the version of %(when)s: %(count)d sets of terms.")
        % {"when": date_format(timezone.localtime(revision.created), "Y-m-d H:i"), "count": count},
    )
    return redirect("knowledge_console:glossary")
