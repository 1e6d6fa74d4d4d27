from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.scenarios.catalog import SCENARIOS


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "scenarios/index.html", {"scenarios": SCENARIOS})
