"""The checklist of a migration run: each user's progress per step, and the Markdown export.
The run's owner, or a colleague on its share link, ticks their own steps."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.scenarios import sharing
from apps.scenarios.migration import actions, export, knowledge
from apps.scenarios.models import Run
from common.http import HtmxHttpRequest


def _readable(request: HtmxHttpRequest, pk: int) -> tuple[Run, str]:
    run = get_object_or_404(Run, pk=pk, scenario="migration")
    token = request.POST.get("share") or request.GET.get("share") or ""
    if run.user_id == request.user.pk:
        return run, ""
    if token and sharing.may_view(request.user, run, token):
        return run, token
    raise Http404("no such run")


@require_POST
def progress(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run, token = _readable(request, pk)
    step = request.POST.get("step", "")
    state = request.POST.get("state", "")
    try:
        row = actions.set_progress(run, request.user, step, state, request.POST.get("note", ""))
    except ValueError:
        return HttpResponse(_("Unknown step or state."), status=400, content_type="text/plain")
    if request.htmx:
        item = next(s for s in run.facts.get("steps", []) if s.get("id") == step)
        kb = knowledge.documents(request.user, {str(item.get("cite", {}).get("path") or "")})
        context = {
            "step": item,
            "row": row,
            "run": run,
            "share_token": token,
            "can_tick": True,
            "kb": kb,
        }
        return render(request, "scenarios/_migration_step.html", context)
    url = f"/scenarios/shared/{token}/" if token else f"/scenarios/migration/runs/{run.pk}/"
    return redirect(f"{url}#step-{step}")


@require_GET
def checklist_markdown(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run, _token = _readable(request, pk)
    paths = {str((s.get("cite") or {}).get("path") or "") for s in run.facts.get("steps", [])}
    kb = knowledge.documents(request.user, paths)
    text = export.markdown(run, actions.progress_of(run, request.user), kb)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="migration-checklist-{run.pk}.md"'
    return response
