"""Posting to Mattermost and Slack incoming webhooks, with retries and exponential backoff.

A 2xx is delivered. A network error, a 5xx or a 429 (Retry-After honoured) is retried after
ALERT_DELIVERY_BACKOFF_SECONDS x 2^(attempt-1), at most ALERT_DELIVERY_ATTEMPTS times. Any
other 4xx is a configuration mistake (deleted hook, archived channel, bad payload) and fails
at once: retrying cannot fix it. Failures are shown in the console and exported on /metrics.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from apps.knowledge.models import Source
from apps.scenarios.alert_triage import crypto, jobs, messages
from apps.scenarios.alert_triage.models import Delivery

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 600.0

ATTEMPTS = Counter(
    "opsdesk_alert_delivery_attempts_total",
    "Posts to chat webhooks by this process, by destination and outcome",
    ["destination", "kind", "outcome"],
)


def public_sources() -> set[int]:
    """Sources every signed-in user may read: the only ones a chat message quotes."""
    return set(
        Source.objects.filter(enabled=True, allowed_groups__isnull=True).values_list(
            "pk", flat=True
        )
    )


def backoff(attempt: int) -> float:
    return min(MAX_BACKOFF_SECONDS, settings.ALERT_DELIVERY_BACKOFF_SECONDS * 2 ** (attempt - 1))


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(MAX_BACKOFF_SECONDS, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def deliver(delivery_id: int) -> str:
    """One attempt; schedules the next one when it may still succeed. Returns the state."""
    claimed = Delivery.objects.filter(
        pk=delivery_id, state__in=(Delivery.State.PENDING, Delivery.State.RETRYING)
    ).update(state=Delivery.State.SENDING)
    row = Delivery.objects.select_related("destination", "alert").filter(pk=delivery_id).first()
    if not claimed or row is None:
        return row.state if row else "missing"
    dest = row.destination
    row.attempts += 1
    url = crypto.decrypt(dest.url_encrypted)
    retry_in: float | None = None
    if url is None:
        row.state = Delivery.State.FAILED
        row.last_error = (
            "the webhook URL cannot be decrypted (ALERT_SECRET_KEY or SECRET_KEY changed)"
        )
    else:
        body = messages.render(dest.kind, row.alert, row.event, public_sources(), dest.channel)
        try:
            response = httpx.post(
                url,
                json=body,
                timeout=settings.ALERT_DELIVERY_TIMEOUT_SECONDS,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            row.last_status = None
            row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            retry_in = backoff(row.attempts)
        else:
            row.last_status = response.status_code
            if response.is_success:
                row.state, row.sent, row.last_error = Delivery.State.SENT, timezone.now(), ""
            else:
                row.last_error = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code == 429:
                    retry_in = _retry_after(response) or backoff(row.attempts)
                elif response.status_code >= 500:
                    retry_in = backoff(row.attempts)
                else:
                    row.state = Delivery.State.FAILED
    if retry_in is not None:
        if row.attempts >= settings.ALERT_DELIVERY_ATTEMPTS:
            row.state, row.next_attempt = Delivery.State.FAILED, None
        else:
            row.state = Delivery.State.RETRYING
            row.next_attempt = timezone.now() + timedelta(seconds=retry_in)
    row.save(
        update_fields=["state", "attempts", "last_status", "last_error", "next_attempt", "sent"]
    )
    outcome = {"sent": "sent", "retrying": "retry", "failed": "failed"}.get(row.state, row.state)
    ATTEMPTS.labels(dest.name, dest.kind, outcome).inc()
    if row.state == Delivery.State.FAILED:
        log.warning("delivery %s to %s failed: %s", row.pk, dest.name, row.last_error)
    if retry_in is not None and row.state == Delivery.State.RETRYING:
        jobs.submit("alert_triage.deliver", row.pk, delay=retry_in)
    return row.state


class DeliveryCollector(Collector):
    """Deliveries by destination and state, read from the database at scrape time, so
    /metrics of any portal process shows what every worker did."""

    def describe(self):
        # Registration asks for the names; answering without a query keeps start-up free of
        # database access.
        yield GaugeMetricFamily("opsdesk_alert_deliveries", "", labels=["destination", "state"])

    def collect(self):
        family = GaugeMetricFamily(
            "opsdesk_alert_deliveries",
            "Chat messages about alerts by destination and state (failed: gave up)",
            labels=["destination", "state"],
        )
        try:
            rows = (
                Delivery.objects.values("destination__name", "state")
                .order_by()
                .annotate(n=Count("id"))
            )
            for row in rows:
                family.add_metric([row["destination__name"], row["state"]], row["n"])
        except Exception as exc:  # a scrape must not fail because the database is away
            log.warning("delivery metrics unavailable: %s", exc)
        yield family


_registered = False


def register_metrics() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(DeliveryCollector())
        _registered = True
