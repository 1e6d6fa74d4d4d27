"""Writes of alert triage: a payload stored as received, then each of its alerts applied to
the alert it belongs to (deduplicated by fingerprint and firing period), triaged, and
announced to the chat destinations whose matchers it meets."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.scenarios.alert_triage import jobs, matchers, payload
from apps.scenarios.alert_triage.models import (
    Alert,
    AlertPayload,
    Delivery,
    Destination,
    Incident,
)

log = logging.getLogger(__name__)
TIMELINE_LIMIT = 50


def record_payload(
    notification: payload.Notification, body: dict[str, Any], token_id: int | None, base_url: str
) -> AlertPayload:
    """Store the call as received (one INSERT: the webhook's only write) and queue it."""
    row = AlertPayload.objects.create(
        token_id=token_id,
        kind=notification.kind,
        receiver=notification.receiver,
        group_key=notification.group_key,
        status=notification.status,
        alert_count=len(notification.alerts),
        truncated_alerts=notification.truncated_alerts,
        body=body,
        base_url=base_url[:300],
    )
    transaction.on_commit(lambda: jobs.submit("alert_triage.process", row.pk))
    return row


@dataclass(frozen=True)
class Outcome:
    alert_id: int
    event: str  # fired | repeated | resolved | reopened | late | unseen


def _event(row: Alert, event: str, at: datetime) -> None:
    row.timeline = [*row.timeline, {"at": at.isoformat(), "event": event}][-TIMELINE_LIMIT:]


def _refresh(row: Alert, alert: payload.IncomingAlert, now: datetime) -> None:
    row.labels = alert.labels
    if alert.annotations:  # a resolve sent by hand may carry none: keep what the firing said
        row.annotations = alert.annotations
        row.summary = alert.summary
    row.severity = alert.severity[:40]
    row.team = alert.team[:100]
    row.generator_url = alert.generator_url[:2000]
    row.last_received = now
    row.notifications += 1


def _new(alert: payload.IncomingAlert, source: AlertPayload, now: datetime) -> Alert:
    row = Alert(
        fingerprint=alert.fingerprint,
        alertname=alert.alertname[:200],
        status=alert.status,
        severity=alert.severity[:40],
        team=alert.team[:100],
        summary=alert.summary,
        labels=alert.labels,
        annotations=alert.annotations,
        generator_url=alert.generator_url[:2000],
        source=source.kind,
        receiver=source.receiver,
        starts_at=alert.starts_at,
        last_starts_at=alert.starts_at,
        ends_at=alert.ends_at if alert.status == "resolved" else None,
        last_received=now,
        base_url=source.base_url,
    )
    _event(row, "fired" if alert.status == "firing" else "resolved", now)
    return row


def apply(alert: payload.IncomingAlert, source: AlertPayload) -> Outcome:
    """Apply one alert of a notification; safe to run concurrently for the same alert."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return _apply(alert, source)
        except IntegrityError:
            # Another worker opened this alert's period first: apply to that one instead.
            continue
    raise RuntimeError(f"alert {alert.fingerprint} could not be applied")


def _apply(alert: payload.IncomingAlert, source: AlertPayload) -> Outcome:
    now = timezone.now()
    rows = Alert.objects.select_for_update().filter(fingerprint=alert.fingerprint)
    open_row = rows.filter(status=Alert.Status.FIRING).first()
    if alert.status == "firing":
        if open_row is not None:
            _refresh(open_row, alert, now)
            open_row.last_starts_at = max(open_row.last_starts_at, alert.starts_at)
            open_row.save()
            return Outcome(open_row.pk, "repeated")
        last = rows.order_by("-last_starts_at").first()
        if last is not None and alert.starts_at <= last.last_starts_at:
            # A late copy of a period already resolved (a retry, reordered delivery).
            _refresh(last, alert, now)
            last.save()
            return Outcome(last.pk, "late")
        window = timedelta(hours=settings.ALERT_REOPEN_HOURS)
        if (
            last is not None
            and last.ends_at is not None
            and alert.starts_at - last.ends_at <= window
        ):
            _refresh(last, alert, now)
            last.status = Alert.Status.FIRING
            last.ends_at = None
            last.refires += 1
            last.last_starts_at = alert.starts_at
            _event(last, "reopened", now)
            last.save()
            return Outcome(last.pk, "reopened")
        row = _new(alert, source, now)
        row.save()
        return Outcome(row.pk, "fired")
    # resolved
    if open_row is not None and alert.starts_at >= open_row.last_starts_at - timedelta(seconds=1):
        _refresh(open_row, alert, now)
        open_row.status = Alert.Status.RESOLVED
        open_row.ends_at = alert.ends_at or now
        _event(open_row, "resolved", now)
        open_row.save()
        return Outcome(open_row.pk, "resolved")
    if open_row is not None:
        # The resolve of an earlier period, arriving after the re-fire: the alert fires.
        _refresh(open_row, alert, now)
        open_row.save()
        return Outcome(open_row.pk, "late")
    last = rows.order_by("-last_starts_at").first()
    if last is not None and alert.starts_at <= last.last_starts_at:
        _refresh(last, alert, now)
        last.save()
        return Outcome(last.pk, "repeated")
    # Resolved before the portal saw it fire (it was down, or the route is new): recorded.
    row = _new(alert, source, now)
    row.save()
    return Outcome(row.pk, "unseen")


def process(payload_id: int) -> list[Outcome]:
    """Apply every alert of a stored payload, then queue triages and messages (idempotent:
    a payload already processed is skipped)."""
    with transaction.atomic():
        row = AlertPayload.objects.select_for_update().filter(pk=payload_id).first()
        if row is None or row.state != AlertPayload.State.RECEIVED:
            return []
        try:
            notification = payload.parse(row.body)
        except Exception as exc:  # stored bodies were validated; a parser change may disagree
            row.state, row.error, row.processed = (
                AlertPayload.State.FAILED,
                str(exc),
                timezone.now(),
            )
            row.save(update_fields=["state", "error", "processed"])
            return []
        outcomes = [apply(alert, row) for alert in notification.alerts]
        closed = track_incident(notification, [o.alert_id for o in outcomes])
        row.state, row.processed = AlertPayload.State.PROCESSED, timezone.now()
        row.save(update_fields=["state", "processed"])
    if closed is not None:
        jobs.submit("postmortem.incident_closed", closed)
    for outcome in outcomes:
        if outcome.event in ("fired", "unseen"):
            jobs.submit("alert_triage.triage", outcome.alert_id)
        elif outcome.event in ("resolved", "reopened"):
            announce(outcome.alert_id, outcome.event)
    return outcomes


def _key_hash(group_key: str) -> str:
    return hashlib.sha256(group_key.encode()).hexdigest()


def track_incident(notification: payload.Notification, alert_ids: list[int]) -> int | None:
    """Group a notification's alerts into their incident (by Alertmanager's groupKey): an
    alert that fires opens one, the group's alerts join it, and once every alert of it has
    resolved it closes. Returns the id of the incident this closed, else None. Runs inside
    process()'s transaction."""
    if not notification.group_key or not alert_ids:
        return None
    key = _key_hash(notification.group_key)
    incident = Incident.objects.select_for_update().filter(key_hash=key, state="open").first()
    if incident is None:
        if not Alert.objects.filter(pk__in=alert_ids, status=Alert.Status.FIRING).exists():
            return None  # only resolves, of an incident already closed or never seen firing
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    key_hash=key,
                    group_key=notification.group_key,
                    receiver=notification.receiver[:200],
                    labels=notification.group_labels,
                )
        except IntegrityError:
            # Another worker opened it first: join that one.
            incident = Incident.objects.select_for_update().get(key_hash=key, state="open")
    incident.alerts.add(*alert_ids)
    if incident.alerts.filter(status=Alert.Status.FIRING).exists():
        return None
    return incident.pk if close_incident(incident, how="resolved") else None


def close_incident(incident: Incident, how: str, user: Any = None) -> bool:
    """Close an open incident (every alert resolved, or a user said so); False when it was
    closed already. Its post-mortem draft is queued by the caller once this commits."""
    done = Incident.objects.filter(pk=incident.pk, state="open").update(
        state="closed",
        closed=timezone.now(),
        closed_how=how,
        closed_by=user if getattr(user, "is_authenticated", False) else None,
    )
    incident.refresh_from_db()
    return bool(done)


def close_by_user(incident: Incident, user: Any) -> bool:
    """A user marks the incident closed; its post-mortem is drafted after the commit."""
    with transaction.atomic():
        done = close_incident(incident, how="user", user=user)
        if done:
            transaction.on_commit(lambda: jobs.submit("postmortem.incident_closed", incident.pk))
    return done


def similar(row: Alert) -> list[Any]:
    """Earlier periods of the same alertname, the same context labels first."""
    from apps.scenarios.alert_triage.triage import SimilarAlert

    if not row.alertname:
        return []
    keys = ("cluster", "namespace", "service", "node", "instance")
    mine = {k: row.labels.get(k) for k in keys if row.labels.get(k)}
    earlier = (
        Alert.objects.filter(alertname=row.alertname, starts_at__lt=row.starts_at)
        .exclude(pk=row.pk)
        .order_by("-starts_at")[:30]
    )
    out = []
    for other in earlier:
        same = bool(mine) and all(other.labels.get(k) == v for k, v in mine.items())
        context = ", ".join(f"{k}={other.labels[k]}" for k in keys if other.labels.get(k))
        out.append(
            SimilarAlert(
                id=other.pk,
                alertname=other.alertname,
                status=other.status,
                starts_at=other.starts_at.isoformat(),
                ends_at=other.ends_at.isoformat() if other.ends_at else None,
                context=context,
                same_context=same,
            )
        )
    # Newest first within each group; a stable sort keeps that order.
    return sorted(out, key=lambda s: not s.same_context)[:5]


def triage(alert_id: int) -> None:
    """Build and store the deterministic triage of an alert, then announce it."""
    from apps.scenarios.alert_triage import triage as build
    from apps.scenarios.alert_triage.scenario import knowledge_base

    # Claimed with one UPDATE, so a sweep re-queueing it meanwhile does not triage it twice.
    claimed = Alert.objects.filter(
        pk=alert_id, triage_state__in=(Alert.TriageState.PENDING, Alert.TriageState.WORKING)
    ).update(triage_state=Alert.TriageState.WORKING, updated=timezone.now())
    row = Alert.objects.filter(pk=alert_id).first()
    if not claimed or row is None:
        return
    incoming = payload.IncomingAlert(
        status=row.status,
        labels=row.labels,
        annotations=row.annotations,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        generator_url=row.generator_url,
        fingerprint=row.fingerprint,
    )
    try:
        kb, problem = knowledge_base()
        result = build.build(incoming, kb, similar(row))
        result.knowledge_error = problem
        fields = {"triage": result.to_json(), "triage_state": Alert.TriageState.READY}
    except Exception as exc:
        log.exception("triage of alert %s failed", alert_id)
        # Even without a triage the on-call channel must hear that it fires (below).
        fields = {"triage_state": Alert.TriageState.FAILED, "triage_error": str(exc)[:2000]}
    Alert.objects.filter(pk=alert_id).update(updated=timezone.now(), **fields)
    # Announced only if it still fires: a resolve may have come in while it was triaged.
    if Alert.objects.filter(pk=alert_id, status=Alert.Status.FIRING).exists():
        announce(alert_id, "firing")


# --- chat destinations ---------------------------------------------------------------------


def destinations_for(row: Alert) -> list[Destination]:
    out = []
    for dest in Destination.objects.filter(enabled=True):
        try:
            wanted = matchers.parse(dest.matchers)
        except matchers.MatcherError:
            continue  # refused when saved; an old row with a bad matcher routes nothing
        if matchers.matches(wanted, row.labels):
            out.append(dest)
    return out


def announce(alert_id: int, event: str) -> list[int]:
    """Queue one message per matching destination. A resolve goes only where the firing went
    (and where the destination wants resolves)."""
    row = Alert.objects.filter(pk=alert_id).first()
    if row is None:
        return []
    if event == "resolved":
        told = Delivery.objects.filter(alert=row, event__in=("firing", "reopened")).values_list(
            "destination_id", flat=True
        )
        targets = list(
            Destination.objects.filter(pk__in=set(told), enabled=True, send_resolved=True)
        )
    else:
        targets = destinations_for(row)
    ids = []
    for dest in targets:
        delivery = Delivery.objects.create(destination=dest, alert=row, event=event)
        ids.append(delivery.pk)
        jobs.submit("alert_triage.deliver", delivery.pk)
    return ids


def sweep() -> int:
    """Queue what was accepted but not finished (a worker stopped mid-storm) and deliveries
    whose retry is due. Run at worker start and from Celery beat."""
    stale = timezone.now() - timedelta(seconds=30)
    count = 0
    for pk in AlertPayload.objects.filter(
        state=AlertPayload.State.RECEIVED, received__lt=stale
    ).values_list("pk", flat=True)[:5000]:
        jobs.submit("alert_triage.process", pk)
        count += 1
    stuck = timezone.now() - timedelta(minutes=10)
    waiting = Alert.objects.filter(
        triage_state=Alert.TriageState.PENDING, first_received__lt=stale
    ) | Alert.objects.filter(triage_state=Alert.TriageState.WORKING, updated__lt=stuck)
    for pk in waiting.values_list("pk", flat=True)[:5000]:
        jobs.submit("alert_triage.triage", pk)
        count += 1
    due = Delivery.objects.filter(
        state__in=(Delivery.State.PENDING, Delivery.State.RETRYING), created__lt=stale
    ).filter(next_attempt__isnull=True) | Delivery.objects.filter(
        state=Delivery.State.RETRYING, next_attempt__lte=timezone.now()
    )
    for pk in due.values_list("pk", flat=True)[:5000]:
        jobs.submit("alert_triage.deliver", pk)
        count += 1
    # Closed incidents whose post-mortem job was lost with its worker (it claims once).
    for pk in Incident.objects.filter(
        state="closed", postmortem_at__isnull=True, closed__lt=stale
    ).values_list("pk", flat=True)[:500]:
        jobs.submit("postmortem.incident_closed", pk)
        count += 1
    return count
