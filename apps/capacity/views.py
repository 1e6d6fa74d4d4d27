"""Planner pages for every signed-in user: the planner and the seed check."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.capacity import catalog, report, seed
from apps.capacity.forms import CUSTOM, PlannerForm
from apps.capacity.formulas import human
from apps.capacity.labels import LIMIT_LABELS
from common.http import HtmxHttpRequest


@require_GET
def planner(request: HtmxHttpRequest) -> HttpResponse:
    # A GET form: a plan is a calculation, and its URL can be shared with the numbers in it.
    form = PlannerForm.with_defaults(request.GET)
    context: dict[str, object] = {
        "form": form,
        "custom": CUSTOM,
        "models": catalog.MODELS.values(),
        "gpus": catalog.GPUS.values(),
        "gpu_prices": {g.key: g.price for g in catalog.GPUS.values()},
    }
    if form.is_valid():
        context.update(report.build(form))
    template = "capacity/planner.html#results" if request.htmx else "capacity/planner.html"
    return render(request, template, context)


@require_GET
def seed_check(request: HtmxHttpRequest) -> HttpResponse:
    rows = []
    for v in seed.verdicts():
        d = v.delivery
        rows.append(
            {
                "v": v,
                "tps": human(d.per_user_tokens_per_s, "tok/s") if d else "—",
                "ttft": human(d.ttft_s, "s") if d and d.replicas else "—",
                "limits": [str(LIMIT_LABELS[x]) for x in (d.limits if d else ["memory"])],
                "same_cost": human(v.same_gpu.cost, "USD") if v.same_gpu else "",
                "any_cost": human(v.any_gpu.cost, "USD") if v.any_gpu else "",
                "same_tps": human(v.same_gpu.per_user_tokens_per_s, "tok/s") if v.same_gpu else "",
                "any_tps": human(v.any_gpu.per_user_tokens_per_s, "tok/s") if v.any_gpu else "",
            }
        )
    return render(request, "capacity/seed.html", {"rows": rows, "workload": seed.WORKLOAD})
