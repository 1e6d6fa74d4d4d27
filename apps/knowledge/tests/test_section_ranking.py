"""Section-aware ranking: a question naming an identifier (a health code, a directive, a
processor) gets the section its heading names first. A small fixture corpus shaped like the real references (Ceph's health checks, an
Nginx module, Data Prepper processors), indexed by the real pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.knowledge.search import retrieval, sections

pytestmark = [pytest.mark.django_db, pytest.mark.both_engines]

FILLER = (
    "Placement groups hold objects; the monitors track their state and report it in the "
    "cluster health. Check the affected pools, the OSDs that serve them and recent changes. "
)
HEALTH = "# Health checks\n\nEvery health check has a unique code.\n\n" + "".join(
    f"## {code}\n\n{FILLER * 3}{body}\n\n"
    for code, body in [
        ("PG_AVAILABILITY", "Data availability is reduced: some placement groups are inactive."),
        ("PG_DEGRADED", "Data redundancy is reduced: some objects lack the configured replicas."),
        ("PG_DAMAGED", "Data scrubbing found inconsistencies in some placement groups."),
        ("OSD_DOWN", "One or more OSDs are marked down; placement groups may be degraded."),
        ("OSD_NEARFULL", "One or more OSDs exceed the nearfull threshold of used capacity."),
        ("MON_CLOCK_SKEW", "The clocks of the monitor hosts are not well synchronized."),
    ]
)
NGINX = "# Proxy module\n\n" + "".join(
    f"## {name}\n\n{body} The directive is valid in http, server and location contexts.\n\n"
    for name, body in [
        ("proxy_buffering", "Enables or disables buffering of responses from the server."),
        ("proxy_pass", "Sets the protocol and address of a proxied server and a URI."),
        ("proxy_read_timeout", "Defines a timeout for reading a response from the server."),
    ]
)
PROCESSORS = {
    "add-entries.md": "# Add entries processor\n\nAdds new entries to an event.\n\n"
    "## Configuration\n\nEach entry has a key and a value; existing keys are kept.\n",
    "delete-entries.md": "# Delete entries processor\n\nDeletes entries from an event.\n\n"
    "## Configuration\n\nList the keys to remove; missing keys are ignored.\n",
}


@pytest.fixture
def refs(tmp_path: Path, ingest) -> Path:
    (tmp_path / "health-checks.md").write_text(HEALTH)
    (tmp_path / "proxy.md").write_text(NGINX)
    for name, text in PROCESSORS.items():
        (tmp_path / name).write_text(text)
    ingest(tmp_path, "refs")
    return tmp_path


class _Admin:
    is_staff = is_superuser = is_active = is_authenticated = True


def _first(query: str, mode: str = "hybrid") -> retrieval.Hit:
    hits = retrieval.search(_Admin(), query, 5, mode=mode)
    assert hits, query
    return hits[0]


def test_a_question_naming_a_health_code_gets_its_section_first(refs: Path) -> None:
    for mode in ("hybrid", "sparse", "dense"):
        hit = _first("ceph status says PG_DEGRADED, what should I do?", mode)
        assert hit.path == "health-checks.md" and hit.section.endswith("PG_DEGRADED"), mode
    hit = _first("ceph health: MON_CLOCK_SKEW на мониторах — что делать?")
    assert hit.section.endswith("MON_CLOCK_SKEW")


def test_a_directive_named_in_the_question_ranks_its_section_first(refs: Path) -> None:
    hit = _first("how do I set proxy_pass to an upstream with a URI")
    assert hit.path == "proxy.md" and hit.section.endswith("proxy_pass")
    assert _first("proxy_read_timeout for slow backends").section.endswith("proxy_read_timeout")


def test_a_processor_is_found_by_its_configured_name(refs: Path) -> None:
    assert _first("add_entries: keep existing keys?").path == "add-entries.md"
    assert _first("delete_entries missing keys").path == "delete-entries.md"


def test_identifiers_of_headings_and_queries() -> None:
    assert sections.of_path(("Health checks", "PG_DEGRADED")) == ["pg_degraded"]
    assert sections.of_path(("Directives", "proxy_pass")) == ["proxy_pass"]
    assert sections.of_path(("Add entries processor", "Configuration")) == ["add_entries"]
    assert sections.of_path(("KubeHpaMaxedOut", "Mitigation")) == ["kubehpamaxedout"]
    assert sections.of_path(("Error handling in playbooks",)) == []
    assert sections.in_query("Ceph PG_DEGRADED after a read-only node.js deploy") == {"pg_degraded"}
    # Product and kind names that whole families of pages carry in their headings are not
    # the name of one section: a question mentioning OpenSearch must not favour them all.
    assert sections.in_query("OpenSearch RabbitMQ OpenTelemetry DaemonSet NotReady") == set()
    assert sections.of_path(("OpenSearch sink", "Grok processor")) == []
    assert sections.in_query("KubeCPUOvercommit fired") == {"kubecpuovercommit"}


def test_hostile_headings_stay_bounded() -> None:
    """A crafted page: an enormous identifier, thousands of them, regex-heavy text."""
    huge = "A_" * 5000
    assert sections.of_path((huge,)) == []
    many = " ".join(f"code_{n}" for n in range(5000))
    assert len(sections.of_path((many,))) == sections.MAX_PER_CHUNK
    assert sections.in_query("_" * 10000 + "a" * 10000) == set()
    assert sections.of_path(("`" * 5000, "processor " * 3000)) == []
