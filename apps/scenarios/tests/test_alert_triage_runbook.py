"""Reading runbooks' own structure: the demo runbooks, chunked the way indexing chunks them."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from apps.knowledge.ingest.chunking import chunk_blocks
from apps.knowledge.ingest.parsing import parse_markdown
from apps.knowledge.search.documents import _without_overlap
from apps.scenarios.alert_triage import runbook as rb

RUNBOOKS = Path(settings.BASE_DIR) / "samples" / "knowledge" / "runbooks"


def load(name: str) -> rb.Document:
    """A runbook as documents.sections() reads it back from the index."""
    parsed = parse_markdown((RUNBOOKS / name).read_bytes(), name)
    sections: list[rb.Section] = []
    for chunk in chunk_blocks(parsed.blocks):
        path = tuple(chunk.section)
        if path and path[0] == parsed.title:
            path = path[1:]
        if sections and sections[-1].path == path:
            merged = sections[-1].text + "\n\n" + _without_overlap(sections[-1].text, chunk.text)
            sections[-1] = rb.Section(path, merged)
        else:
            sections.append(rb.Section(path, chunk.text))
    return rb.Document(parsed.title, f"runbooks/{name}", "", "demo", 1, name, sections)


def test_first_steps_are_the_diagnosis_subsections_in_order_with_their_commands() -> None:
    doc = load("KubePodCrashLooping.md")
    steps = rb.first_steps(doc)
    assert [s.title for s in steps] == [
        "Найти под и посмотреть причину последнего завершения",
        "Логи предыдущего (упавшего) запуска",
        "События",
        "Что менялось",
        "Проверить зависимости",
    ]
    assert steps[1].commands == "kubectl -n $NS logs $POD -c <container> --previous --tail=200"
    assert steps[1].section == "Диагностика › 2. Логи предыдущего (упавшего) запуска"
    # Reading is safe; starting a debug pod is not, and is marked so.
    assert [s.changes for s in steps] == [False, False, False, False, True]


def test_causes_are_the_runbooks_own_list_in_its_order() -> None:
    causes = rb.causes(load("KubePodCrashLooping.md"))
    assert causes[0].text.startswith("Не хватает памяти — `OOMKilled`")
    assert causes[0].section == "Что это значит" and causes[0].order == 0
    assert any("exec format error" in c.text for c in causes)


def test_a_symptom_table_with_a_cause_column_gives_causes() -> None:
    causes = [c.text for c in rb.causes(load("CephOSDDown.md"))]
    assert causes[0] == "умирает диск (в dmesg `I/O error`, SMART `media_errors` растёт)"
    assert any(c.startswith("сеть кластера") for c in causes)


def test_english_runbook_steps_come_from_its_numbered_list_with_the_code_under_each() -> None:
    doc = load("HAProxyBackendDown.md")
    steps = rb.first_steps(doc)
    assert steps[0].title.startswith("Which servers are down and why")
    assert "show servers state" in steps[0].commands
    escalation = rb.escalation(doc)
    assert escalation is not None and escalation[1] == "Escalation"


def test_what_not_to_do_and_the_fixes_are_found() -> None:
    doc = load("KubePodCrashLooping.md")
    assert [n[0][:22] for n in rb.never(doc)] == [
        "Не удаляйте поды в цик",
        "Не отключайте liveness",
    ]
    fixes = {f.title: f for f in rb.mitigations(doc)}
    assert (
        fixes["Откат релиза"].changes and "helm -n $NS rollback" in fixes["Откат релиза"].commands
    )
    assert "Не трогайте" not in fixes


@pytest.mark.parametrize(
    ("command", "changes"),
    [
        ("kubectl -n $NS get pod $POD -o wide", False),
        ("helm -n $NS history <release> --max 5", False),
        ("ceph osd df tree", False),
        ("redis-cli -h x info memory", False),
        ("curl -s http://x/health", False),
        ("helm -n $NS rollback r 3 --wait", True),
        ("kubectl -n $NS delete pod $POD", True),
        ("ceph osd out 22", True),
        ("redis-cli -h x FLUSHALL", True),
        ("curl -X POST http://x/_cluster/reroute", True),
    ],
)
def test_commands_that_change_the_system_are_told_apart(command: str, changes: bool) -> None:
    assert rb.changes_system(command) is changes
