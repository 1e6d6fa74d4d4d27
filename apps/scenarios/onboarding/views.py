"""/scenarios/onboarding/: a newcomer's tracks, one track with its progress controls and
questions answered from the onboarding sources, and a lead's view of the newcomers."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.scenarios.engine.checks import Check
from apps.scenarios.models import Run
from apps.scenarios.onboarding import access, actions
from apps.scenarios.onboarding.models import Track, TrackProgress
from apps.scenarios.onboarding.scenario import QUESTION
from common.http import HtmxHttpRequest

MAX_QUESTION = 1000


def _track(request: HtmxHttpRequest, name: str) -> Track | HttpResponse:
    try:
        return access.find(request.user, name)
    except access.UnknownTrack as exc:
        context = {"unknown": exc.message, "tracks": access.visible(request.user)}
        return render(request, "scenarios/onboarding_index.html", context, status=404)


@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    tracks = access.visible(request.user)
    rows = [
        (t, access.summary(t, access.progress_of(t, request.user)), access.leads(request.user, t))
        for t in tracks
    ]
    return render(request, "scenarios/onboarding_index.html", {"rows": rows, "tracks": tracks})


def _steps(track: Track, user: Any) -> list[dict[str, Any]]:
    progress = access.progress_of(track, user)
    out = []
    for n, step in enumerate(track.steps, start=1):
        read = []
        for link in step.get("read", []):
            state = track.link_state(link["target"]) or {}
            document = state.get("document") or {}
            read.append(
                {
                    **link,
                    "href": document.get("link") or (link["target"] if _is_url(link) else ""),
                    "title": link.get("label") or document.get("title") or link["target"],
                    "broken": state.get("ok") is False,
                    "problem": state.get("problem", ""),
                }
            )
        out.append({**step, "n": n, "read": read, "progress": progress.get(step["key"])})
    return out


def _is_url(link: dict[str, Any]) -> bool:
    return str(link.get("target", "")).lower().startswith(("http://", "https://"))


def _question_run(request: HtmxHttpRequest, track: Track) -> Run | None:
    wanted = request.GET.get("ask", "")
    if not wanted.isdigit():
        return None
    return Run.objects.filter(
        pk=int(wanted),
        user_id=int(request.user.pk or 0),
        scenario="onboarding",
        facts__track=track.name,
    ).first()


@require_GET
def track_page(request: HtmxHttpRequest, name: str) -> HttpResponse:
    found = _track(request, name)
    if isinstance(found, HttpResponse):
        return found
    track = found
    run = _question_run(request, track)
    asked = Run.objects.filter(
        user_id=int(request.user.pk or 0), scenario="onboarding", facts__track=track.name
    ).order_by("-pk")[:8]
    context = {
        "track": track,
        "steps": _steps(track, request.user),
        "summary": access.summary(track, access.progress_of(track, request.user)),
        "is_lead": access.leads(request.user, track),
        "run": run,
        "owner": True,
        "scenario": None,
        "checks": [Check.from_dict(c) for c in run.checks] if run else [],
        "asked": asked,
        "states": TrackProgress.State,
    }
    if run is not None:
        from apps.scenarios.engine import registry

        context["scenario"] = registry.get("onboarding")
    return render(request, "scenarios/onboarding_track.html", context)


@require_POST
def progress(request: HtmxHttpRequest, name: str, step: str) -> HttpResponse:
    found = _track(request, name)
    if isinstance(found, HttpResponse):
        return found
    track = found
    state = request.POST.get("state", "")
    error = ""
    try:
        actions.set_progress(request.user, track, step, state, request.POST.get("note", ""))
    except actions.ProgressError as exc:
        error = str(exc)
    if request.htmx:
        one = (
            next(s for s in _steps(track, request.user) if s["key"] == step)
            if track.step(step)
            else None
        )
        context = {
            "track": track,
            "step": one,
            "error": error,
            "note": request.POST.get("note", "") if error else "",
            "summary": access.summary(track, access.progress_of(track, request.user)),
            "states": TrackProgress.State,
        }
        # 200 even when refused: htmx swaps only 2xx answers, and the step shows why.
        return render(request, "scenarios/onboarding_track.html#step", context)
    if error:
        messages.error(request, error)
    return redirect(reverse("onboarding:track", args=[track.name]) + f"#step-{step}")


@require_POST
def ask(request: HtmxHttpRequest, name: str) -> HttpResponse:
    found = _track(request, name)
    if isinstance(found, HttpResponse):
        return found
    track = found
    question = request.POST.get("question", "").strip()
    step = request.POST.get("step", "")
    if not question:
        messages.error(request, _("Type a question."))
        return redirect("onboarding:track", name=track.name)
    if len(question) > MAX_QUESTION:
        messages.error(request, _("A question is at most %(n)d characters.") % {"n": MAX_QUESTION})
        return redirect("onboarding:track", name=track.name)
    run = Run.objects.create(
        user_id=int(request.user.pk or 0),
        scenario="onboarding",
        title=question[:200],
        origin=Run.Origin.PASTE,
        input_name=track.path[:500],
        input_text=question,
        params={"track": track.name, "step": step if track.step(step) else ""},
        facts={
            "kind": QUESTION,
            "question": question,
            "track": track.name,
            "step": step if track.step(step) else "",
        },
        status=Run.Status.PENDING,
    )
    return redirect(reverse("onboarding:track", args=[track.name]) + f"?ask={run.pk}#answer")


@require_GET
def team(request: HtmxHttpRequest, name: str) -> HttpResponse:
    found = _track(request, name)
    if isinstance(found, HttpResponse):
        return found
    track = found
    if not access.leads(request.user, track):
        raise PermissionDenied
    people = access.newcomers(track)
    rows = []
    all_progress: dict[tuple[int, str], TrackProgress] = {
        (p.user_id, p.step): p for p in TrackProgress.objects.filter(track=track)
    }
    for person in people:
        mine = {k[1]: v for k, v in all_progress.items() if k[0] == person.pk}
        cells = [mine.get(step["key"]) for step in track.steps]
        rows.append({"user": person, "cells": cells, "summary": access.summary(track, mine)})
    context = {
        "track": track,
        "rows": rows,
        "blocked": [
            (r["user"], step, cell)
            for r in rows
            for step, cell in zip(track.steps, r["cells"], strict=True)
            if cell is not None and cell.state == TrackProgress.State.BLOCKED
        ],
    }
    return render(request, "scenarios/onboarding_team.html", context)
