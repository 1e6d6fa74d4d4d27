"""A week of service-graph history for the change-impact tests, as OpenMetrics that promtool
backfills into a real Prometheus.

The catalog (data/change_impact/catalog-info.yaml) declares checkout-web → payments (through
payments-api), storefront → checkout-web, payments → ledger and payments → payments-db. The
traces show the first two, plus orders → payments (orders is not in the catalog) and
ledger → audit; never payments → ledger, and payments-db not at all. payments is quiet from
03:00 to 05:00 in the portal's time zone.
"""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).parent / "data" / "change_impact"
CATALOG = (DATA / "catalog-info.yaml").read_text()
STEP = 300  # seconds between samples
DAYS = 7


def payments_rate(local_hour: int) -> float:
    """Requests per second checkout-web sends to payments at this hour of the day."""
    return 0.1 if local_hour in (3, 4) else 4.0 + local_hour % 5


EDGES: dict[tuple[str, str], Callable[[int], float]] = {
    ("checkout-web", "payments"): payments_rate,
    ("orders", "payments"): lambda h: payments_rate(h) / 2,
    ("storefront", "checkout-web"): lambda h: 6.0,
    ("ledger", "audit"): lambda h: 1.0,
}


def history(zone: str, now: float | None = None) -> str:
    """OpenMetrics: one counter per edge, a sample every STEP seconds for DAYS days."""
    tz = zoneinfo.ZoneInfo(zone)
    end = int(now or time.time()) - 60
    start = end - DAYS * 86400 - 3600
    lines = ["# TYPE traces_service_graph_request counter"]
    for (client, server), rate in EDGES.items():
        total = 0.0
        for t in range(start, end + 1, STEP):
            hour = dt.datetime.fromtimestamp(t, tz).hour
            total += rate(hour) * STEP
            lines.append(
                f'traces_service_graph_request_total{{client="{client}",server="{server}"}} '
                f"{total:.1f} {t}"
            )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"
