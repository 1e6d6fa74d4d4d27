"""Prometheus metrics of the portal itself: requests and latencies by route.

Apps define their own metrics with prometheus_client in their own modules; /metrics exports
everything in the default registry.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Histogram

from common import dbconnections  # noqa: F401  (counts this process's connections)

REQUESTS = Counter(
    "opsdesk_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
LATENCY = Histogram(
    "opsdesk_http_request_duration_seconds",
    "Time to produce an HTTP response (streaming bodies excluded)",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _route(request: HttpRequest) -> str:
    # The URL pattern name, not the path: paths carry ids and would explode label cardinality.
    match = getattr(request, "resolver_match", None)
    return match.view_name if match and match.view_name else "unmatched"


class RequestMetricsMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(
        self, get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]
    ):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _observe(self, request: HttpRequest, response: HttpResponse, started: float) -> None:
        route = _route(request)
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        self._observe(request, response, started)  # type: ignore[arg-type]
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response: HttpResponse = await self.get_response(request)  # type: ignore[misc]
        self._observe(request, response, started)
        return response
