"""Ceph health: the code table against the reference, and the findings an on-call engineer
expects from real-shaped `ceph health detail` / `ceph -s` output, text and JSON."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import translation

from apps.knowledge.ingest.parsing import parse_rst
from apps.scenarios.ceph_health import codes, summaries
from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis, InputError
from apps.scenarios.engine.findings import Severity
from common import testing

DATA = Path(__file__).parent / "data" / "ceph"


def reference() -> Path:
    """Ceph's health-checks reference as the knowledge base holds it, read from the corpus."""
    return testing.corpus() / "ceph" / codes.DOC_PATH


_CODE_TOKEN = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9<>a-z ]*[A-Z0-9>])+\b")


def analyze(name: str) -> Analysis:
    with translation.override("en"):
        return registry.get("ceph-health").analyze((DATA / name).read_text(), {})


def by_code(analysis: Analysis) -> dict[str, Any]:
    return {f.data["code"]: f for f in analysis.findings if "code" in f.data}


def reference_codes() -> list[str]:
    """Every code the reference heads a section with (titles underlined with '_')."""
    lines = reference().read_text().splitlines()
    return [
        lines[i].strip()
        for i in range(len(lines) - 1)
        if lines[i].strip() and re.fullmatch(r"_{3,}", lines[i + 1].strip())
    ]


# --- the table ---------------------------------------------------------------------------


def test_the_table_covers_every_code_of_the_reference_and_no_other() -> None:
    in_reference = set(reference_codes())
    assert len(in_reference) >= 70  # the page lists ~75 codes; a parse gone wrong finds few
    assert in_reference == set(codes.table())


def test_each_code_cites_a_section_the_knowledge_base_parser_finds_in_the_reference() -> None:
    parsed = parse_rst(reference().read_bytes(), reference().name)
    sections = {" > ".join(b.section) for b in parsed.blocks}
    for entry in codes.table().values():
        assert entry.sections, entry.code
        for section in entry.sections:
            assert section in sections, f"{entry.code}: {section} is not a section of the reference"
    # POOL_FULL is defined twice in the reference; both sections are cited.
    assert len(codes.table()["POOL_FULL"].sections) == 2


def test_each_code_says_what_to_check_with_safe_commands_and_marks_the_risky_ones() -> None:
    for entry in codes.table().values():
        assert entry.safe, entry.code
        assert str(entry.meaning) and str(entry.check_first), entry.code
        for care in entry.care:
            # A command that changes the cluster is never offered as a safe first step.
            assert care.command not in entry.safe, entry.code
            assert str(care.note), entry.code
    risky = {c.command.split(" <")[0] for e in codes.table().values() for c in e.care}
    assert "ceph osd out osd.<id>" in risky
    assert "ceph pg repair" in risky


def test_the_table_texts_name_no_other_health_code() -> None:
    """Related codes are linked only when they are in the input, so the texts name none."""
    for entry in codes.table().values():
        texts = [str(entry.meaning), str(entry.check_first), *(str(c.note) for c in entry.care)]
        for text in texts:
            for token in _CODE_TOKEN.findall(text):
                assert token not in codes.table(), f"{entry.code} names {token}"


def test_the_table_exists_in_russian() -> None:
    with translation.override("ru"):
        for entry in codes.table().values():
            for text in (entry.meaning, entry.check_first, *(c.note for c in entry.care)):
                assert re.search("[а-яА-Я]", str(text)), f"{entry.code}: {text} is not translated"


def test_related_codes_exist_in_the_table() -> None:
    for entry in codes.table().values():
        for other in entry.explained_by:
            assert other in codes.table(), f"{entry.code} is explained by unknown {other}"


def test_every_summary_pattern_names_a_code_of_the_table() -> None:
    assert summaries.covered_codes() <= set(codes.table())


# --- findings on real-shaped output ------------------------------------------------------


def test_a_host_down_puts_unavailable_data_first_and_explains_the_degraded_pgs() -> None:
    analysis = analyze("host_down_detail.txt")
    first = analysis.findings[0]
    assert first.rule == "ceph.PG_AVAILABILITY" and first.severity == Severity.CRITICAL
    found = by_code(analysis)
    assert set(found) == {"OSD_DOWN", "OSD_HOST_DOWN", "PG_AVAILABILITY", "PG_DEGRADED"}
    degraded = found["PG_DEGRADED"]
    assert set(degraded.data["explained_by"]) == {"OSD_DOWN", "OSD_HOST_DOWN"}
    assert "OSD_HOST_DOWN" in degraded.why
    assert "PG_DEGRADED" in found["OSD_HOST_DOWN"].data["explains"]
    assert degraded.data["pg_counts"] == {"degraded": 116, "undersized": 128}
    assert found["OSD_DOWN"].data["affected"] == ["osd.3", "osd.4", "osd.5"]
    assert (
        found["OSD_DOWN"].line == 3 and found["OSD_DOWN"].evidence == "[WRN] OSD_DOWN: 3 osds down"
    )
    assert len(found["PG_DEGRADED"].data["detail"]) == 4
    # The per-host code shares the reference's OSD_<crush type>_DOWN section.
    host = found["OSD_HOST_DOWN"]
    assert host.refs == ("OSD_HOST_DOWN", "OSD_<crush type>_DOWN")
    assert host.data["cite"]["sections"] == [
        "Health checks > Definitions > OSDs > OSD_<crush type>_DOWN"
    ]
    assert host.data["cite"]["url"].endswith("#osd-crush-type-down")
    assert analysis.grounding[0] == "PG_AVAILABILITY"
    pgs = analysis.facts["pgs"]
    assert pgs["counted_from"] == "detail" and pgs["states"]["undersized+degraded+peered"] == 2
    assert analysis.failed  # data unavailable: the command line exits 1


def test_ceph_status_text_is_read_by_the_summaries_with_the_pg_states_counted() -> None:
    analysis = analyze("host_down_status.txt")
    found = by_code(analysis)
    assert set(found) == {"OSD_DOWN", "OSD_HOST_DOWN", "PG_AVAILABILITY", "PG_DEGRADED"}
    assert all(f.data["source"] == "summary" for f in found.values())
    assert found["OSD_HOST_DOWN"].line == 6
    pgs = analysis.facts["pgs"]
    assert pgs["total"] == 192 and sum(pgs["states"].values()) == 192
    assert pgs["states"]["active+clean"] == 64
    assert pgs["not_active_clean"] == 128
    assert pgs["by_flag"]["undersized"] == 128 and pgs["by_flag"]["degraded"] == 116
    cluster = analysis.facts["cluster"]
    assert cluster["osds"] == {"total": 9, "up": 6, "in": 9}
    assert cluster["mons"]["quorum"] == ["ceph-mon1", "ceph-mon2", "ceph-mon3"]
    assert not [f for f in analysis.findings if f.rule == "ceph.lines-not-read"]


@pytest.mark.parametrize("name", ["host_down_detail.json", "host_down_status.json"])
def test_json_gives_the_same_findings_as_text(name: str) -> None:
    text = [(f.rule, f.severity, f.message) for f in analyze("host_down_detail.txt").findings]
    as_json = [(f.rule, f.severity, f.message) for f in analyze(name).findings]
    assert as_json == [t for t in text if t[0] != "ceph.lines-not-read"]
    if name == "host_down_status.json":
        facts = analyze(name).facts
        assert facts["pgs"]["total"] == 192 and facts["pgs"]["states"]["active+clean"] == 64
        assert facts["cluster"]["osds"] == {"total": 9, "up": 6, "in": 9}
    else:
        degraded = by_code(analyze(name))["PG_DEGRADED"]
        assert degraded.data["count"] == 244 and degraded.line == 29


def test_a_full_cluster_is_an_outage_of_writes_with_the_cause_linked() -> None:
    analysis = analyze("full_detail.txt")
    found = by_code(analysis)
    assert [f.rule for f in analysis.findings[:2]] == ["ceph.OSD_FULL", "ceph.POOL_FULL"]
    assert found["OSD_FULL"].severity == Severity.CRITICAL
    assert found["PG_RECOVERY_FULL"].severity == Severity.ERROR
    assert found["PG_RECOVERY_FULL"].data["explained_by"] == ["OSD_FULL"]
    assert found["POOL_FULL"].data["explained_by"] == ["OSD_FULL"]
    assert found["OSD_NEARFULL"].severity == Severity.WARNING
    assert found["OSD_FULL"].data["affected"] == ["osd.3"]
    fix = found["OSD_FULL"].fix
    assert fix.index("Safe to run first") < fix.index("Needs care")
    assert "`ceph osd set-full-ratio <ratio>`" in fix.split("Needs care")[1]


def test_scrub_errors_and_damaged_pg_point_at_the_repair_only_as_a_careful_step() -> None:
    analysis = analyze("inconsistent_detail.txt")
    found = by_code(analysis)
    assert found["PG_DAMAGED"].severity == Severity.ERROR
    assert found["PG_DAMAGED"].data["explained_by"] == ["OSD_SCRUB_ERRORS"]
    assert "ceph pg repair <pgid>" not in found["PG_DAMAGED"].data["safe"]
    assert found["PG_DAMAGED"].data["care"][0]["command"] == "ceph pg repair <pgid>"
    assert (
        "rados list-inconsistent-obj <pgid> --format=json-pretty"
        in found["PG_DAMAGED"].data["safe"]
    )


def test_a_muted_check_is_shown_as_muted_and_explains_nothing() -> None:
    analysis = analyze("mon_detail.txt")
    found = by_code(analysis)
    flags = found["OSDMAP_FLAGS"]
    assert flags.severity == Severity.INFO and flags.data["muted"] is True
    assert analysis.findings[-1] is flags
    assert found["MON_DOWN"].data["explained_by"] == ["MON_CLOCK_SKEW", "RECENT_CRASH"]
    assert found["MON_DOWN"].data["affected"] == ["mon.c"]
    assert analysis.facts["muted"] == ["OSDMAP_FLAGS"]


def test_codes_outside_the_reference_are_flagged_not_explained() -> None:
    analysis = analyze("unknown_detail.txt")
    unknown = [f for f in analysis.findings if f.rule == "ceph.unknown-code"]
    assert {f.data["code"] for f in unknown} == {"MDS_SLOW_REQUEST", "OSD_SLOW_PING_TIME_BACK"}
    for f in unknown:
        assert f.refs == () and f.fix == "" and f.severity == Severity.WARNING
        assert f.data["code"] not in analysis.grounding
    assert analysis.grounding == ["SLOW_OPS"]
    assert by_code(analysis)["SLOW_OPS"].data["explained_by"] == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("luminous_detail.txt", {"OSD_DOWN", "PG_DEGRADED"}),
        ("jewel_detail.txt", {"PG_DAMAGED", "OSD_SCRUB_ERRORS"}),
    ],
)
def test_older_formats_are_read(name: str, expected: set[str]) -> None:
    analysis = analyze(name)
    assert set(by_code(analysis)) == expected
    if name == "jewel_detail.txt":
        damaged = by_code(analysis)["PG_DAMAGED"]
        assert damaged.data["detail"] == ["pg 0.6 is active+clean+inconsistent, acting [0,1,2]"]
        assert not [f for f in analysis.findings if f.rule == "ceph.lines-not-read"]
    else:
        assert by_code(analysis)["PG_DEGRADED"].data["explained_by"] == ["OSD_DOWN"]


def test_the_documented_muted_example_is_read() -> None:
    """monitoring.rst: `ceph health detail` with a muted check on an otherwise healthy cluster."""
    text = "HEALTH_OK (muted: OSD_DOWN)\n(MUTED) OSD_DOWN 1 osds down\n    osd.1 is down\n"
    analysis = registry.get("ceph-health").analyze(text, {})
    (finding,) = analysis.findings
    assert finding.rule == "ceph.OSD_DOWN" and finding.severity == Severity.INFO
    assert finding.data["muted"] and finding.data["affected"] == ["osd.1"]
    assert not analysis.failed


def test_the_ceph_health_one_liner_is_read_by_its_summaries() -> None:
    text = (
        "HEALTH_WARN 1 osds down; 1 nearfull osd(s); 2 pools have too many placement groups; "
        "mon ceph-mon2 is low on available space; (muted: MON_CLOCK_SKEW(4h))\n"
    )
    analysis = registry.get("ceph-health").analyze(text, {})
    assert [f.rule for f in analysis.findings] == [
        "ceph.MON_DISK_LOW",
        "ceph.OSD_DOWN",
        "ceph.OSD_NEARFULL",
        "ceph.POOL_TOO_MANY_PGS",
        "ceph.MON_CLOCK_SKEW",
    ]
    assert analysis.findings[-1].severity == Severity.INFO  # muted for four hours


def test_a_healthy_cluster_says_so() -> None:
    analysis = analyze("ok_status.txt")
    assert [f.rule for f in analysis.findings] == ["ceph.HEALTH_OK"]
    assert analysis.facts["pgs"]["states"] == {"active+clean": 16}
    assert not analysis.failed


@pytest.mark.parametrize(
    "name",
    [
        "host_down_detail.txt",
        "host_down_status.txt",
        "host_down_status.json",
        "full_detail.txt",
        "mon_detail.txt",
        "unknown_detail.txt",
        "jewel_detail.txt",
    ],
)
def test_every_code_shown_exists_in_the_input(name: str) -> None:
    text = (DATA / name).read_text()
    analysis = analyze(name)
    # What the page shows: messages, explanations, fixes and the linked codes.
    shown = json.dumps(
        [
            {k: v for k, v in f.to_dict().items() if k not in ("refs", "data")}
            | {"links": f.data.get("explained_by", []) + f.data.get("explains", [])}
            for f in analysis.findings
        ]
    )
    tokens = set(re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", shown))
    known_codes = {t for t in tokens if codes.lookup(t) or t.endswith("_DOWN")}
    assert known_codes, name
    for token in known_codes:
        # A code recognised from `ceph -s` wording is in the input as its summary.
        finding = next((f for f in analysis.findings if f.data.get("code") == token), None)
        assert token in text or (finding and finding.data["summary"] in text), (
            f"{token} not in {name}"
        )


# --- bad input ---------------------------------------------------------------------------


def test_ceph_osd_tree_pasted_is_refused_with_the_reason() -> None:
    with pytest.raises(InputError) as exc:
        analyze("osd_tree.txt")
    assert exc.value.message.startswith(
        "no HEALTH_OK/WARN/ERR header: this is not health or status output"
    )
    assert "ceph osd tree" in exc.value.message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            '{"status": "HEALTH_WARN", "checks": {"OSD_DOWN": {"severity": "HEALTH_WARN",\n "summary": 3}}}',
            "checks.OSD_DOWN.summary",
        ),
        (
            '{"status": "HEALTH_WARN", "checks": {"OSD_DOWN": {"severity": "BAD", "summary": {"message": "x"}}}}',
            "checks.OSD_DOWN.severity",
        ),
        ('{"health": {"overall_status": "HEALTH_WARN", "summary": []}}', "overall_status"),
    ],
)
def test_malformed_json_names_the_field(text: str, where: str) -> None:
    with pytest.raises(InputError) as exc:
        registry.get("ceph-health").analyze(text, {})
    assert exc.value.field == where


def test_broken_json_names_the_line() -> None:
    with pytest.raises(InputError) as exc:
        registry.get("ceph-health").analyze('{"status": "HEALTH_OK",\n"checks": {,}}', {})
    assert exc.value.line == 2 and "not valid JSON" in exc.value.message


@pytest.mark.parametrize("text", ["", "\x00\x01binary", "HEALTHY\n", '{"osd_tree": []}', "[1, 2]"])
def test_other_input_is_refused(text: str) -> None:
    with pytest.raises(InputError):
        registry.get("ceph-health").analyze(text, {})


def test_twenty_thousand_detail_lines_are_read_and_a_paste_over_the_limit_is_refused() -> None:
    detail = "\n".join(
        f"    pg 1.{i:x} is active+undersized+degraded, acting [0,{i % 9}]" for i in range(20000)
    )
    text = f"HEALTH_WARN Degraded data redundancy: 20000 pgs degraded\n[WRN] PG_DEGRADED: Degraded data redundancy: 20000 pgs degraded\n{detail}\n"
    analysis = registry.get("ceph-health").analyze(text, {})
    assert by_code(analysis)["PG_DEGRADED"].data["count"] == 20000
    assert len(by_code(analysis)["PG_DEGRADED"].data["detail"]) == 20000
    with pytest.raises(InputError) as exc:
        registry.get("ceph-health").analyze(text * 3, {})
    assert exc.value.field == "text" and "MB" in exc.value.message


# --- command line ------------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("scenario", "analyze", "ceph-health", *args, stdout=out, stderr=err)
    return int(exc.value.code or 0), out.getvalue(), err.getvalue()


def test_command_line_exit_status_and_json() -> None:
    code, out, _ = _cli(str(DATA / "host_down_detail.txt"), "--json")
    assert code == 1
    data = json.loads(out)
    assert data["findings"][0]["rule"] == "ceph.PG_AVAILABILITY"
    assert data["pgs"]["counted_from"] == "detail"
    code, out, _ = _cli(str(DATA / "mon_detail.txt"))
    assert code == 0 and "[ceph.MON_DOWN]" in out
    code, _, err = _cli(str(DATA / "osd_tree.txt"))
    assert code == 2 and "no HEALTH_OK/WARN/ERR header" in err


@pytest.mark.parametrize(
    "text",
    [
        "{" + '"a":{' * 100_000 + "}" * 100_001,
        '{"status": "HEALTH_WARN", "checks": {"X_Y": {"severity": "HEALTH_WARN", "summary": {"message": "m"}, "detail": "str"}}}',
    ],
)
def test_hostile_json_is_refused_cleanly(text: str) -> None:
    with pytest.raises(InputError):
        registry.get("ceph-health").analyze(text, {})
