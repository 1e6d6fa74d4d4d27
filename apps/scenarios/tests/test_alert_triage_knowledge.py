"""The triage reads the knowledge base: the runbook an alert links or that search finds, its
steps and causes cited by section, post-mortems that name the alert, and only what the
triage may read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apps.scenarios.alert_triage import payload, triage
from apps.scenarios.alert_triage.lookup import KnowledgeBase, reader

pytestmark = pytest.mark.django_db


def alert(name: str, summary: str = "", description: str = "", **extra: str) -> Any:
    annotations = {"summary": summary or f"{name} fires"}
    if description:
        annotations["description"] = description
    if "runbook_url" in extra:
        annotations["runbook_url"] = extra.pop("runbook_url")
    return payload.IncomingAlert(
        status="firing",
        labels={"alertname": name, "severity": "warning", **extra},
        annotations=annotations,
        starts_at=datetime.now(UTC),
        ends_at=None,
        generator_url="http://prometheus.test/graph",
        fingerprint=f"fp-{name}",
    )


def build(a: Any) -> triage.Triage:
    return triage.build(a, KnowledgeBase(reader()))


def test_runbook_url_resolves_to_the_indexed_runbook_by_its_path(runbook_kb: Any) -> None:
    url = "https://git.tgl.internal/sre/knowledge/-/blob/main/runbooks/KubePodCrashLooping.md"
    t = build(
        alert(
            "KubePodCrashLooping",
            runbook_url=url,
            namespace="orders",
            pod="order-api-7c9f8d6b5-x2lqk",
        )
    )
    assert t.runbook is not None and t.runbook.path == "runbooks/KubePodCrashLooping.md"
    assert t.runbook_how == "runbook_url" and t.runbook_note == ""
    assert t.steps[0].title == "Найти под и посмотреть причину последнего завершения"
    assert t.steps[0].section.startswith("Диагностика › 1.")
    assert "kubectl -n $NS logs $POD" in t.steps[1].commands
    assert t.never and t.escalation is not None


def test_a_runbook_url_without_extension_or_by_bare_path_resolves_too(runbook_kb: Any) -> None:
    for ref in (
        "runbooks/CephOSDNearFull.md",
        "https://wiki.tgl.internal/runbooks/CephOSDNearFull",
    ):
        t = build(alert("CephOSDNearFull", runbook_url=ref))
        assert t.runbook is not None and t.runbook.path == "runbooks/CephOSDNearFull.md", ref
        assert t.runbook_how == "runbook_url"


def test_the_alerts_own_words_rank_the_causes_and_say_why(runbook_kb: Any) -> None:
    t = build(
        alert(
            "KubePodCrashLooping",
            summary="Pod orders/billing-worker-5d4f restarts",
            description="Last state: OOMKilled, exit code 137",
            runbook_url="runbooks/KubePodCrashLooping.md",
        )
    )
    assert "OOMKilled" in t.causes[0].text and t.causes[0].origin == "runbook"
    assert any(r.startswith("alert:") and "OOMKilled" in r for r in t.causes[0].reasons)
    assert t.causes[0].section == "Что это значит"


def test_without_runbook_url_search_finds_the_runbook_and_the_postmortem(runbook_kb: Any) -> None:
    t = build(
        alert(
            "CephOSDNearFull", summary="OSD osd.31 is above the nearfull ratio", cluster="ceph-m1"
        )
    )
    assert t.runbook is not None and t.runbook.path == "runbooks/CephOSDNearFull.md"
    assert t.runbook_how == "search"
    assert [p.doc.path for p in t.postmortems] == ["postmortems/2024-11-ceph-nearfull.md"]
    report = t.postmortems[0]
    assert "CephOSDNearFull" in report.excerpt and report.root_cause
    history = [c for c in t.causes if c.origin == "postmortem"]
    assert history and history[0].text == report.root_cause


def test_an_unindexed_runbook_url_is_said_and_search_is_tried(runbook_kb: Any) -> None:
    t = build(alert("KubePodCrashLooping", runbook_url="https://wiki.example/NoSuchRunbook"))
    assert t.runbook_note == "url-not-found"
    assert t.runbook is not None and t.runbook_how == "search"


def test_an_alert_nothing_knows_gets_no_invented_causes(runbook_kb: Any) -> None:
    t = build(alert("QuantumFluxCapacitorDrift", summary="flux drifting"))
    assert t.runbook is None and t.causes == [] and t.steps == [] and t.postmortems == []


def test_a_restricted_runbook_is_read_only_when_the_triage_may(
    runbook_kb: Any, settings: Any
) -> None:
    a = alert("VaultSealed", summary="Vault is sealed", runbook_url="runbooks/VaultSealed.md")
    assert build(a).runbook is None  # the sre-only source is not the triage's to quote
    settings.ALERT_TRIAGE_GROUPS = ["sre"]
    from apps.scenarios.alert_triage import lookup

    lookup.cache.clear()
    t = build(a)
    assert t.runbook is not None and t.runbook.source == "SRE runbooks"
    assert t.causes[0].text.startswith("Перезапуск пода vault-0")
    assert not reader().is_active  # the service account can never sign in
