"""Webhook payloads of Alertmanager (version "4") and Grafana alerting (version "1").

Both send the same envelope (receiver, status, alerts[], groupKey, groupLabels, commonLabels,
externalURL, truncatedAlerts); Grafana adds orgId, title, state and per-alert URLs and
values. A payload that is neither is refused with the field that is missing or wrong, so the
sender's log says what to fix, and nothing of a valid payload is dropped: every alert it
carries is returned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from apps.scenarios.engine.base import InputError
from common import jsonsafe

Kind = Literal["alertmanager", "grafana"]
STATUSES = ("firing", "resolved")
# Go's zero time: Alertmanager's endsAt of an alert that has not ended.
_ZERO_YEAR = 1
# Labels worth a column of their own on the page and in messages (the rest stay in labels).
CONTEXT_LABELS = ("cluster", "namespace", "pod", "node", "instance", "service", "job")


@dataclass(frozen=True)
class IncomingAlert:
    """One alert as the sender described it."""

    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    fingerprint: str
    # Grafana only: links to the silence form, dashboard and panel, and the evaluated values.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "").lower()

    @property
    def team(self) -> str:
        return self.labels.get("team", "")

    @property
    def summary(self) -> str:
        return self.annotations.get("summary") or self.annotations.get("message", "")

    @property
    def description(self) -> str:
        return self.annotations.get("description", "")

    @property
    def runbook_url(self) -> str:
        # runbook_url is the convention of kube-prometheus and Grafana; "runbook" is common too.
        return (self.annotations.get("runbook_url") or self.annotations.get("runbook", "")).strip()

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": self.starts_at.isoformat(),
            "endsAt": self.ends_at.isoformat() if self.ends_at else None,
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
            **({"extra": self.extra} if self.extra else {}),
        }


@dataclass(frozen=True)
class Notification:
    """One webhook call: the group it is about and every alert in it."""

    kind: Kind
    receiver: str
    status: str
    group_key: str
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    external_url: str
    truncated_alerts: int
    alerts: list[IncomingAlert]
    title: str = ""  # Grafana's


def fingerprint_of(labels: Mapping[str, str]) -> str:
    """A stable id for a label set when the sender gives none (older Alertmanager, tools)."""
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _str_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InputError(f"{where} must be an object of strings", field=where)
    out: dict[str, str] = {}
    for key, item in value.items():
        # Numbers are tolerated (hand-written payloads); objects, lists and booleans are not.
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise InputError(f"{where}.{key} must be a string", field=f"{where}.{key}")
        out[str(key)] = str(item)
    return out


def parse_time(value: Any, where: str, required: bool) -> datetime | None:
    if value in (None, ""):
        if required:
            raise InputError(f"missing field '{where}'", field=where)
        return None
    if not isinstance(value, str):
        raise InputError(f"{where} must be an RFC 3339 time string", field=where)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{where} is not an RFC 3339 time: {value[:40]!r}", field=where) from None
    if moment.tzinfo is None:
        raise InputError(f"{where} has no time zone: {value[:40]!r}", field=where)
    if moment.year <= _ZERO_YEAR:
        if required:
            raise InputError(f"{where} is the zero time", field=where)
        return None
    return moment.astimezone(UTC)


def _require(data: Mapping[str, Any], name: str, where: str = "") -> Any:
    path = f"{where}.{name}" if where else name
    if name not in data or data[name] is None:
        raise InputError(f"missing field '{path}'", field=path)
    return data[name]


def _alert(raw: Any, n: int) -> IncomingAlert:
    where = f"alerts[{n}]"
    if not isinstance(raw, dict):
        raise InputError(f"{where} must be an object", field=where)
    status = _require(raw, "status", where)
    if status not in STATUSES:
        raise InputError(
            f"{where}.status must be 'firing' or 'resolved', got {str(status)[:20]!r}",
            field=f"{where}.status",
        )
    labels = _str_map(_require(raw, "labels", where), f"{where}.labels")
    annotations = _str_map(raw.get("annotations") or {}, f"{where}.annotations")
    starts = parse_time(raw.get("startsAt"), f"{where}.startsAt", required=True)
    assert starts is not None
    ends = parse_time(raw.get("endsAt"), f"{where}.endsAt", required=False)
    generator = raw.get("generatorURL") or ""
    if not isinstance(generator, str):
        raise InputError(f"{where}.generatorURL must be a string", field=f"{where}.generatorURL")
    fingerprint = raw.get("fingerprint") or fingerprint_of(labels)
    if not isinstance(fingerprint, str) or len(fingerprint) > 64:
        raise InputError(
            f"{where}.fingerprint must be a short string", field=f"{where}.fingerprint"
        )
    extra = {
        k: raw[k]
        for k in ("silenceURL", "dashboardURL", "panelURL", "valueString")
        if isinstance(raw.get(k), str) and raw[k]
    }
    return IncomingAlert(
        status=str(status),
        labels=labels,
        annotations=annotations,
        starts_at=starts,
        ends_at=ends,
        generator_url=generator,
        fingerprint=fingerprint,
        extra=extra,
    )


def parse(data: Any) -> Notification:
    """The notification in `data` (decoded JSON), or InputError naming what is wrong."""
    if not isinstance(data, dict):
        raise InputError("the body must be a JSON object (an Alertmanager webhook payload)")
    version = _require(data, "version")
    kind: Kind
    if str(version) == "4":
        kind = "alertmanager"
    elif str(version) == "1" and ("orgId" in data or "state" in data):
        kind = "grafana"
    else:
        raise InputError(
            f'unsupported webhook version {str(version)[:20]!r}: Alertmanager sends "4", '
            'Grafana alerting "1"',
            field="version",
        )
    receiver = _require(data, "receiver")
    status = _require(data, "status")
    if status not in STATUSES:
        raise InputError(
            f"status must be 'firing' or 'resolved', got {str(status)[:20]!r}", field="status"
        )
    alerts = _require(data, "alerts")
    if not isinstance(alerts, list):
        raise InputError("alerts must be a list", field="alerts")
    group_key = _require(data, "groupKey") if kind == "alertmanager" else data.get("groupKey", "")
    truncated = data.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise InputError("truncatedAlerts must be a whole number", field="truncatedAlerts")
    return Notification(
        kind=kind,
        receiver=str(receiver)[:200],
        status=str(status),
        group_key=str(group_key)[:2000],
        group_labels=_str_map(data.get("groupLabels") or {}, "groupLabels"),
        common_labels=_str_map(data.get("commonLabels") or {}, "commonLabels"),
        external_url=str(data.get("externalURL") or "")[:2000],
        truncated_alerts=truncated,
        alerts=[_alert(raw, n) for n, raw in enumerate(alerts)],
        title=str(data.get("title") or "")[:500],
    )


def loads(text: str | bytes) -> Notification:
    """Parse the raw body: malformed JSON names its line and column."""
    return parse(json_body(text))


def json_body(text: str | bytes) -> Any:
    """The body's JSON, bounded in depth; what is wrong with it as an InputError."""
    try:
        return jsonsafe.loads(text)
    except jsonsafe.TooDeep as exc:
        raise InputError(str(exc), field="body") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            line=exc.lineno,
            field="body",
        ) from None
    except UnicodeDecodeError:
        raise InputError("the body is not UTF-8 text", field="body") from None
