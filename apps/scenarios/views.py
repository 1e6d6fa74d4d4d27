"""Scenario pages: one generic page per scenario, its runs, history and sharing.

Every scenario is shown by the same views, driven by its Scenario object (engine/base.py):
the form, the findings at once (rendered here, before any model is asked), then the
explanation, which the run page's socket streams (consumers.py). Writes go through
actions.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import select_template
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.knowledge.ingest import gitfiles
from apps.scenarios import actions, sharing
from apps.scenarios.catalog import SCENARIOS
from apps.scenarios.engine import registry, runner
from apps.scenarios.engine.base import MAX_INPUT_BYTES, InputError, Scenario
from apps.scenarios.engine.checks import Check
from apps.scenarios.engine.forms import ScenarioForm
from apps.scenarios.engine.runner import ToolMissing
from apps.scenarios.models import Run
from common.http import HtmxHttpRequest

RECENT_RUNS = 8


def _uid(request: HtmxHttpRequest) -> int:
    # LoginRequiredMiddleware lets only signed-in users reach these views.
    return int(request.user.pk or 0)


def _scenario(slug: str) -> Scenario:
    try:
        return registry.get(slug)
    except registry.UnknownScenario:
        raise Http404(slug) from None


def _form_class(scenario: Scenario) -> type[ScenarioForm]:
    return scenario.form_class or ScenarioForm


def _missing_tools(scenario: Scenario) -> list[str]:
    return [t for t in scenario.tools if not runner.installed(t)]


@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    live = registry.available()
    cards = []
    for card in SCENARIOS:
        if card.slug == "search":
            url = reverse("knowledge:search")
        elif card.slug in live:
            url = reverse("scenarios:page", args=[card.slug])
        else:
            url = ""
        cards.append({"card": card, "url": url})
    return render(request, "scenarios/index.html", {"cards": cards})


def _initial(request: HtmxHttpRequest) -> dict[str, Any]:
    """A link can open the form on a Git file (?source=&ref=&path=) or on an earlier run's
    input (?from=<run id>), so reviewing a file at a ref is one click from the link."""
    initial: dict[str, Any] = {"explain": True}
    if request.GET.get("path"):
        initial.update(
            mode="git",
            source=request.GET.get("source", ""),
            ref=request.GET.get("ref", "")[:200],
            path=request.GET.get("path", "")[:500],
        )
    earlier = request.GET.get("from", "")
    if earlier.isdigit():
        run = Run.objects.filter(pk=int(earlier), user_id=_uid(request)).first()
        if run is not None:
            if run.origin == Run.Origin.GIT and run.input_source_id:
                initial.update(
                    mode="git", source=run.input_source_id, ref=run.input_ref, path=run.input_name
                )
            else:
                initial.update(mode="paste", text=run.input_text)
            initial.update(run.params)
    return initial


@require_http_methods(["GET", "POST"])
def page(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The scenario's form; a valid POST analyzes, stores the run and opens its page."""
    scenario = _scenario(slug)
    form_class = _form_class(scenario)
    error_line: dict[str, Any] | None = None
    if request.method == "POST":
        form = form_class(request.POST, request.FILES, user=request.user)
        if form.is_valid() and form.input is not None:
            item = form.input
            try:
                analysis = scenario.analyze(item.text, item.params)
            except InputError as exc:
                error_line = _error_context(exc, item.text)
                _keep_input(form, exc, item.text)
            except ToolMissing as exc:
                form.add_error(
                    None, _("%(tool)s is not installed on the portal server.") % {"tool": exc.tool}
                )
            else:
                explain = bool(form.cleaned_data.get("explain"))
                run = actions.create_run(request.user, scenario, item, analysis, explain)
                return redirect("scenarios:run", slug=slug, pk=run.pk)
    else:
        form = form_class(initial=_initial(request), user=request.user)
    return _render_page(request, scenario, form, error_line)


def _render_page(
    request: HtmxHttpRequest,
    scenario: Scenario,
    form: ScenarioForm,
    error_line: dict[str, Any] | None,
) -> HttpResponse:
    recent = Run.objects.filter(user_id=_uid(request), scenario=scenario.slug)[:RECENT_RUNS]
    context = {
        "scenario": scenario,
        "form": form,
        "error_line": error_line,
        "missing_tools": _missing_tools(scenario),
        "recent": recent,
    }
    return render(request, "scenarios/page.html", context, status=400 if error_line else 200)


def too_big_page(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """A form sent over the request size limit: nothing in it can be read (not even the CSRF
    token), so nothing is done; the page answers as to a GET, with the form and the limit."""
    scenario = _scenario(slug)
    form = _form_class(scenario)(initial={"explain": True}, user=request.user)
    message = _(
        "The form sent more than %(limit)d MB, so nothing in it was read. A scenario reads "
        "at most %(max)d MB of input: paste a smaller part, or upload the file."
    ) % {
        "limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1048576,
        "max": MAX_INPUT_BYTES // 1048576,
    }
    error: dict[str, Any] = {"message": message, "line": None, "field": "text", "excerpt": []}
    return _render_page(request, scenario, form, error)


class TooLargeInputMiddleware:
    """Placed before CsrfViewMiddleware: a paste over DATA_UPLOAD_MAX_MEMORY_SIZE into a
    scenario page would otherwise end in Django's bare 400 (RequestDataTooBig) when the CSRF
    check reads the body. Only for signed-in users on a scenario page; nothing is written."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        match = request.resolver_match
        if request.method != "POST" or match is None or match.view_name != "scenarios:page":
            return None
        if not request.user.is_authenticated:
            return None  # LoginRequiredMiddleware sends them to sign in
        try:
            request.POST  # noqa: B018  (parsing the body is the point)
        except RequestDataTooBig:
            return too_big_page(request, str(kwargs.get("slug", "")))  # type: ignore[arg-type]
        return None


def _error_context(exc: InputError, text: str) -> dict[str, Any]:
    """The offending input line beside the error, so the fix is obvious at 3 a.m."""
    lines = text.splitlines()
    line = exc.line if exc.line and 0 < exc.line <= len(lines) else None
    return {
        "message": exc.message,
        "line": line,
        "field": exc.field,
        "excerpt": [
            (n, lines[n - 1]) for n in range(max(1, line - 2), min(len(lines), line + 2) + 1)
        ]
        if line
        else [],
    }


def _keep_input(form: ScenarioForm, exc: InputError, text: str) -> None:
    """Attach the error to its field and keep the input: an uploaded file's text comes back
    in the paste box (a browser cannot refill a file field), so nothing is lost."""
    where = exc.field if exc.field in form.fields else None
    if where is None and form.cleaned_data.get("mode") != "git":
        where = "text"
    message = exc.message
    if exc.line:
        message = _("line %(n)d: %(message)s") % {"n": exc.line, "message": exc.message}
    if form.cleaned_data.get("mode") == "upload":
        data = dict(form.data.items())
        data["mode"], data["text"] = "paste", text
        form.data = data
        where = "text" if where in (None, "upload") else where
    form.add_error(where, message)


def _owned(request: HtmxHttpRequest, slug: str, pk: int) -> Run:
    return get_object_or_404(Run, pk=pk, scenario=slug, user_id=_uid(request))


def _run_context(request: HtmxHttpRequest, run: Run, *, owner: bool) -> dict[str, Any]:
    scenario = registry.available().get(run.scenario)
    page_url = request.build_absolute_uri(reverse("scenarios:run", args=[run.scenario, run.pk]))
    facts_template = select_template(
        [f"scenarios/{run.scenario.replace('-', '_')}_facts.html", "scenarios/_facts.html"]
    )
    return {
        "run": run,
        "scenario": scenario,
        "owner": owner,
        "checks": [Check.from_dict(c) for c in run.checks],
        "facts": run.facts,
        "facts_rows": _facts_rows(run.facts),
        "facts_template": facts_template.template.name,
        "share_url": request.build_absolute_uri(sharing.share_url(run)) if run.share_token else "",
        "chat_seed": sharing.chat_seed(request.user, run, page_url),
        "input_lines": list(enumerate(run.input_text.splitlines(), start=1)),
    }


def _facts_rows(facts: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(key, text, whether it is a block) for the plain facts table."""
    rows = []
    for key, value in facts.items():
        if isinstance(value, str | int | float | bool) or value is None:
            rows.append((str(key), "" if value is None else str(value), False))
        else:
            rows.append((str(key), json.dumps(value, ensure_ascii=False, indent=2), True))
    return rows


@require_GET
def run_page(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    run = _owned(request, slug, pk)
    return render(request, "scenarios/run.html", _run_context(request, run, owner=True))


@require_GET
def shared(request: HtmxHttpRequest, token: str) -> HttpResponse:
    run = Run.objects.filter(share_token=token).first() if token else None
    if run is None:
        raise Http404("no such share")
    if run.user_id == request.user.pk:
        return redirect("scenarios:run", slug=run.scenario, pk=run.pk)
    if not sharing.may_view(request.user, run, token):
        context = {"run": run, "missing": len(sharing.unreadable_sources(request.user, run))}
        return render(request, "scenarios/shared_denied.html", context, status=403)
    context = _run_context(request, run, owner=False)
    context["share_token"] = token
    return render(request, "scenarios/run.html", context)


@require_GET
def history(request: HtmxHttpRequest) -> HttpResponse:
    rows = Run.objects.filter(user_id=_uid(request))
    slug = request.GET.get("scenario", "")
    if slug:
        rows = rows.filter(scenario=slug)
    page_obj = Paginator(rows, 50).get_page(request.GET.get("page"))
    titles = {s: str(sc.title) for s, sc in registry.available().items()}
    template = "scenarios/history.html#rows" if request.htmx else "scenarios/history.html"
    context = {"page": page_obj, "scenario": slug, "titles": titles}
    return render(request, template, context)


@require_POST
def share(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    run = _owned(request, slug, pk)
    if request.POST.get("action") == "stop":
        actions.unshare(run)
        messages.info(request, _("The share link no longer works."))
    else:
        actions.share(run)
        messages.info(
            request,
            _(
                "Share link made. It opens for signed-in users who may read every source this run used."
            ),
        )
    return redirect("scenarios:run", slug=slug, pk=pk)


@require_POST
def feedback(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    run = _owned(request, slug, pk)
    error = ""
    try:
        actions.set_feedback(
            run, int(request.POST.get("rating", "0")), request.POST.get("comment", "")
        )
    except ValueError as exc:
        error = (
            str(exc) if isinstance(exc, actions.RunError) else _("Choose thumbs up or thumbs down.")
        )
        run.refresh_from_db()
    if request.htmx:
        context = {"run": run, "error": error, "owner": True}
        return render(request, "scenarios/_feedback.html", context, status=400 if error else 200)
    if error:
        messages.error(request, error)
    return redirect("scenarios:run", slug=slug, pk=pk)


@require_POST
def explain(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    """Ask for the explanation (again); the run page's socket starts it."""
    run = _owned(request, slug, pk)
    if not actions.request_explanation(run):
        messages.error(request, _("The explanation is being written; stop it first."))
    return redirect("scenarios:run", slug=slug, pk=pk)


@require_POST
def delete(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    run = _owned(request, slug, pk)
    if run.is_streaming:
        messages.error(request, _("The explanation is being written; stop it first."))
        return redirect("scenarios:run", slug=slug, pk=pk)
    actions.delete_run(run)
    messages.info(request, _("The run was deleted."))
    return redirect("scenarios:page", slug=slug)


@require_GET
def git_files(request: HtmxHttpRequest) -> HttpResponse:
    """The files of a Git source at its indexed commit, as <option>s for the path picker."""
    wanted = request.GET.get("source", "")
    if not wanted.isdigit():
        return render(request, "scenarios/_git_files.html", {"files": []})
    if int(wanted) not in {s.pk for s in gitfiles.git_sources(request.user)}:
        raise Http404("no such source")
    try:
        files, error = gitfiles.list_files(request.user, wanted), ""
    except gitfiles.GitFileError as exc:
        files, error = [], exc.message
    return render(request, "scenarios/_git_files.html", {"files": files, "error": error})
