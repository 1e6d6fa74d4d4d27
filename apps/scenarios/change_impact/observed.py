"""What the traces say (PROMETHEUS_URL): who calls whom, how often, and when a service is
quiet.

The edges are the service graph that Tempo's metrics generator or the OpenTelemetry
Collector's servicegraph connector writes, `traces_service_graph_request_total{client,
server}`: hourly rates over the last LOOKBACK_DAYS, averaged over the hours each pair was
seen. Traffic by hour is the requests the service
served (`server="<name>"`) per hour of the day over the same days, in the portal's time
zone; the quietest WINDOW_HOURS in a row are suggested for the change.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from apps.capacity import prom
from apps.scenarios.change_impact.graph import Observed

METRIC = "traces_service_graph_request_total"
LOOKBACK_DAYS = 7
WINDOW_HOURS = 2
MAX_EDGES = 5000
EDGES_STEP = 6 * 3600  # the edges need no hourly detail: 28 points a pair, not 168
EDGES = f"sum by (client, server) (rate({METRIC}[6h]))"
TRAFFIC = "sum(rate(" + METRIC + '{{server="{name}"}}[1h]))'


def configured() -> bool:
    return bool(getattr(settings, "PROMETHEUS_URL", ""))


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


@dataclass
class Traffic:
    hours: list[float | None]  # mean requests/s for each hour of the day, local time
    zone: str
    window_start: int | None = None  # the quietest WINDOW_HOURS start here
    window_rate: float | None = None
    peak_hour: int | None = None
    peak_rate: float | None = None
    days: float = 0.0  # how much history there was

    def bars(self, height: int = 80) -> list[dict[str, Any]]:
        """The page's bar chart: one bar per hour, the suggested window marked."""
        top = max((h for h in self.hours if h is not None), default=0.0) or 1.0
        quiet = (
            {(self.window_start + i) % 24 for i in range(WINDOW_HOURS)}
            if self.window_start is not None
            else set()
        )
        out = []
        for hour, rate in enumerate(self.hours):
            h = 0 if rate is None else max(1, round(rate / top * height))
            out.append(
                {"hour": hour, "rate": None if rate is None else round(rate, 2), "x": hour * 22,
                 "y": height - h, "h": h, "quiet": hour in quiet}
            )  # fmt: skip
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "bars": self.bars(),
            "hours": [None if h is None else round(h, 4) for h in self.hours],
            "zone": self.zone,
            "window_start": self.window_start,
            "window_end": None
            if self.window_start is None
            else (self.window_start + WINDOW_HOURS) % 24,
            "window_hours": WINDOW_HOURS,
            "window_rate": None if self.window_rate is None else round(self.window_rate, 4),
            "peak_hour": self.peak_hour,
            "peak_rate": None if self.peak_rate is None else round(self.peak_rate, 4),
            "days": round(self.days, 1),
        }


@dataclass
class Reading:
    """One look at Prometheus: the edges, the service's traffic, or why there are none."""

    edges: list[Observed] = field(default_factory=list)
    traffic: Traffic | None = None
    error: str = ""
    seen: set[str] = field(default_factory=set)  # every name in a client or server label


def _hours(http: Any, query: str, step: int = 3600) -> list[dict[str, Any]]:
    """A range query over the last LOOKBACK_DAYS in whole steps, each point the rate over
    the step that ends at it (the query's window is the step). Step by step, so Prometheus
    loads one step of samples at a time (a [7d] window over a large mesh would pass its
    query.max-samples)."""
    end = int(time.time()) // 3600 * 3600
    params = {
        "query": query,
        "start": end - LOOKBACK_DAYS * 86400 + step,
        "end": end,
        "step": step,
    }
    return prom._get(http, "/api/v1/query_range", params)


def _finite(values: list[list[Any]]) -> list[tuple[float, float]]:
    out = []
    for t, raw in values:
        value = float(raw)
        if math.isfinite(value):
            out.append((float(t), value))
    return out


def edges(http: Any) -> list[Observed]:
    """Each client → server pair with its mean requests/s over the 6-hour steps it was seen."""
    out = []
    for row in _hours(http, EDGES, EDGES_STEP)[:MAX_EDGES]:
        labels = row.get("metric", {})
        client, server = labels.get("client", ""), labels.get("server", "")
        points = _finite(row.get("values", []))
        rate = sum(v for _t, v in points) / len(points) if points else 0.0
        if client and server and rate > 0:
            out.append(Observed(client, server, rate))
    return out


def traffic(http: Any, name: str) -> Traffic | None:
    zone_name = getattr(settings, "TIME_ZONE", "UTC") or "UTC"
    zone = zoneinfo.ZoneInfo(zone_name)
    rows = _hours(http, TRAFFIC.format(name=_quote(name)))
    points = _finite(rows[0]["values"]) if rows else []
    if len(points) < 24:
        return None
    sums = [0.0] * 24
    counts = [0] * 24
    for t, value in points:
        hour = dt.datetime.fromtimestamp(t, zone).hour
        # A point is the rate over the hour before it: it belongs to the hour that ended.
        hour = (hour - 1) % 24
        sums[hour] += value
        counts[hour] += 1
    hours: list[float | None] = [s / c if c else None for s, c in zip(sums, counts, strict=True)]
    result = Traffic(hours, zone_name, days=(points[-1][0] - points[0][0]) / 86400)
    known = [(h, v) for h, v in enumerate(hours) if v is not None]
    if not known:
        return result
    result.peak_hour, result.peak_rate = max(known, key=lambda p: p[1])
    best: tuple[float, int] | None = None
    for start in range(24):
        window = [hours[(start + i) % 24] for i in range(WINDOW_HOURS)]
        if any(v is None for v in window):
            continue
        mean = sum(v for v in window if v is not None) / WINDOW_HOURS
        if best is None or mean < best[0] - 1e-9:
            best = (mean, start)
    if best is not None:
        result.window_rate, result.window_start = best
    return result


def read(name: str | None) -> Reading:
    """The observed edges and, for `name`, its traffic by hour; never raises."""
    if not configured():
        return Reading()
    reading = Reading()
    try:
        with prom.client() as http:
            reading.edges = edges(http)
            if name:
                reading.traffic = traffic(http, name)
    except prom.PrometheusError as exc:
        reading.error = _("Prometheus could not be asked: %(error)s") % {"error": str(exc)[:300]}
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        reading.error = _("Prometheus answered something the portal does not read: %(error)s") % {
            "error": f"{type(exc).__name__}: {exc}"[:300]
        }
    for o in reading.edges:
        reading.seen.update((o.client.lower(), o.server.lower()))
    return reading
