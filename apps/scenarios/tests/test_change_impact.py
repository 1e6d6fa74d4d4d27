"""Change impact: a Backstage catalog written by the test, and a real Prometheus (Debian's,
started on a free loopback port) holding a week of service-graph history backfilled with
promtool. What an engineer about to change `payments` would notice: who depends on it, whom
to tell, which dependencies the catalog gets wrong, when to do it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import translation

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import InputError
from apps.scenarios.tests.alertmanager_servers import free_port, prometheus_with_history
from apps.scenarios.tests.change_impact_fixtures import CATALOG, history

SCENARIO = registry.get("change-impact")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("prometheus-service-graph")
    with prometheus_with_history(workdir, history(settings.TIME_ZONE)) as url:
        yield url


@pytest.fixture
def no_prometheus(settings: Any) -> None:
    settings.PROMETHEUS_URL = ""


@pytest.fixture
def with_prometheus(settings: Any, prometheus: str) -> str:
    settings.PROMETHEUS_URL = prometheus
    return prometheus


def analyze(text: str = CATALOG, **params: Any) -> Any:
    with translation.override("en"):
        return SCENARIO.analyze(text, {"service": "payments", **params})


def rules(analysis: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for f in analysis.findings:
        out.setdefault(f.rule, []).append(f)
    return out


def test_blast_radius_owners_and_checklist_from_the_catalog_alone(no_prometheus: None) -> None:
    analysis = analyze(change="Upgrade the PostgreSQL schema")
    found = rules(analysis)
    down = found["change-impact.downstream"][0]
    assert down.message == "2 services depend on payments within 2 steps: checkout-web, storefront"
    assert "storefront → checkout-web → payments" in down.evidence
    assert down.line == 17  # payments' own document
    up = {n["name"]: n for n in analysis.facts["upstream"]}
    assert set(up) == {"ledger", "payments-db"}
    assert up["payments-db"]["via"] == ["dependsOn"]
    down_facts = {n["name"]: n for n in analysis.facts["downstream"]}
    assert down_facts["checkout-web"]["via"] == ["api:payments-api"]
    assert down_facts["storefront"]["depth"] == 2
    owners = {o["owner"]: o for o in analysis.facts["owners"]}
    assert owners["team-payments"]["email"] == "payments@example.com"
    assert owners["team-web"]["services"] == ["checkout-web", "storefront"]
    checklist = " ".join(analysis.facts["checklist"])
    assert "team-payments, team-web" in checklist
    assert "backup" in checklist  # a schema change
    assert "payments-api backward compatible" in checklist
    assert "Traffic by hour is not known" in checklist
    assert "not-declared" not in " ".join(found)  # nothing compared without traces
    # Depth 1 stops at the direct dependents; the picture has the service and its neighbours.
    shallow = analyze(depth=1)
    assert [n["name"] for n in shallow.facts["downstream"]] == ["checkout-web"]
    labels = [n["label"] for n in shallow.facts["picture"]["nodes"]]
    assert labels[0] == "payments" and set(labels) == {
        "payments",
        "checkout-web",
        "ledger",
        "payments-db",
    }
    assert len(shallow.facts["picture"]["edges"]) == 3


def test_an_unknown_service_names_the_nearest_one(no_prometheus: None) -> None:
    with pytest.raises(InputError) as caught:
        analyze(service="paymnts")
    assert caught.value.message == "'paymnts' is not in the catalog; did you mean 'payments'?"
    assert caught.value.field == "service"
    with pytest.raises(InputError) as caught:
        analyze(service="zzzz")
    assert "is not in the catalog, which has: checkout, checkout-web" in caught.value.message


def test_an_api_or_a_system_is_changed_as_a_whole(no_prometheus: None) -> None:
    api = analyze(service="payments-api")
    assert [n["name"] for n in api.facts["downstream"]] == ["checkout-web", "storefront"]
    system = analyze(service="checkout")
    assert "checkout-web" in [n["name"] for n in system.facts["downstream"]]
    assert {"ledger", "payments-db"} <= {n["name"] for n in system.facts["upstream"]}


def test_declared_and_observed_dependencies_compared_on_a_real_prometheus(
    with_prometheus: str,
) -> None:
    analysis = analyze()
    found = rules(analysis)
    undeclared = {f.where: f for f in found["change-impact.undeclared-dependency"]}
    orders = undeclared["orders → payments"]
    assert str(orders.severity) == "error"  # it calls the service being changed
    assert "orders is not in the catalog" in orders.message
    assert str(undeclared["ledger → audit"].severity) == "warning"
    unseen = {f.where: f for f in found["change-impact.declared-not-observed"]}
    assert set(unseen) == {"payments → ledger"}
    assert unseen["payments → ledger"].line == 26  # the dependsOn line
    assert "payments-db" in found["change-impact.not-in-traces"][0].message
    # orders joins the blast radius from the traces, marked as seen only there.
    down = {n["name"]: n for n in analysis.facts["downstream"]}
    assert down["orders"]["observed"] and not down["orders"]["declared"]
    assert down["checkout-web"]["observed"] and down["checkout-web"]["declared"]
    assert 4.0 < down["checkout-web"]["rate"] < 8.0
    classes = {e["cls"] for e in analysis.facts["picture"]["edges"]}
    assert "edge edge-undeclared" in classes and "edge edge-seen" in classes
    # The quietest two hours, in the portal's time zone.
    window = found["change-impact.window"][0]
    assert f"03:00–05:00 {settings.TIME_ZONE}" in window.message
    traffic = analysis.facts["traffic"]
    assert traffic["window_start"] == 3 and traffic["days"] >= 6
    assert traffic["hours"][3] < 0.5 < 5.0 < traffic["peak_rate"]
    assert "Ask the owners of orders first" in " ".join(analysis.facts["checklist"])
    assert analysis.failed  # the CLI exits 1: the catalog is wrong about payments


def test_an_unreachable_prometheus_is_a_warning_and_the_catalog_still_answers(
    settings: Any,
) -> None:
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{free_port()}"
    analysis = analyze()
    found = rules(analysis)
    assert "Prometheus could not be asked" in found["change-impact.prometheus"][0].message
    assert "change-impact.downstream" in found and analysis.facts["traffic"] is None


BOMB = """a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
"""


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (BOMB, 6, "alias bomb"),
        ("a:\n" + "".join(" " * i + "- \n" for i in range(1, 200)), None, "nested more than"),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
            1,
            "not a service catalog",
        ),
        # libyaml notices the unclosed "[" where the next line starts.
        (CATALOG.replace("  name: ledger", "  name: [ledger"), 51, "does not parse"),
        (CATALOG.replace("  name: ledger", "  name: ../../etc"), 50, "valid metadata.name"),
        ("x" * (2 * 1024 * 1024 + 10), None, "at most 2 MB"),
        ("apiVersion: backstage.io/v1alpha1\n\x00", None, "binary"),
    ],
    ids=["alias-bomb", "deep", "not-a-catalog", "broken-yaml", "bad-name", "huge", "binary"],
)
def test_hostile_input_is_refused_with_a_clear_reason(
    no_prometheus: None, text: str, line: int | None, words: str
) -> None:
    with pytest.raises(InputError) as caught:
        analyze(text)
    assert words in caught.value.message
    if line is not None:
        assert caught.value.line == line


def test_a_large_catalog_without_aliases_is_read_and_a_bomb_in_it_is_not(
    no_prometheus: None,
) -> None:
    """4,000 components are ~150,000 YAML nodes: more than the alias guard's limit, but
    written out, not expanded, so they are read."""
    docs = [
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n"
        f"  name: svc-{i}\n  annotations: {{a: x, b: y, c: z}}\nspec:\n  type: service\n"
        f"  lifecycle: production\n  owner: team-{i % 40}\n"
        f"  dependsOn: [component:svc-{(i + 1) % 4000}, component:svc-{(i + 7) % 4000}]\n"
        for i in range(4000)
    ]
    text = "---\n".join(docs)
    analysis = analyze(text, service="svc-5", depth=1)
    assert [n["name"] for n in analysis.facts["downstream"]] == ["svc-3998", "svc-4"]
    with pytest.raises(InputError, match="alias bomb"):
        analyze(text + "---\n" + BOMB, service="svc-5")


def test_catalog_mistakes_are_findings_with_their_lines(no_prometheus: None) -> None:
    broken = CATALOG.replace("component:ledger]", "component:ledgr]") + (
        "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments\n"
        "spec:\n  type: service\n"
    )
    found = rules(analyze(broken))
    missing = found["catalog.missing-entity"][0]
    assert missing.message == "ledgr in spec.dependsOn of payments is not in the catalog"
    assert missing.line == 26 and str(missing.severity) == "error"
    assert found["catalog.duplicate"][0].message == "payments is defined twice (first on line 17)"


def _manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "scenario", "analyze", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PROMETHEUS_URL": ""},
    )


def test_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "catalog-info.yaml"
    path.write_text(CATALOG)
    result = _manage("change-impact", str(path), "--service", "payments", "--depth", "1", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [n["name"] for n in data["downstream"]] == ["checkout-web"]
    assert data["findings"][0]["rule"] == "change-impact.downstream"
    wrong = _manage("change-impact", str(path), "--service", "paymnts")
    assert wrong.returncode == 2
    # The command speaks the portal's default language, Russian…
    assert "«paymnts» нет в каталоге; может быть, «payments»?" in wrong.stderr
    # …and English where English is active.
    err = io.StringIO()
    with pytest.raises(SystemExit) as status, translation.override("en"):
        call_command(
            "scenario", "analyze", "change-impact", str(path), "--service", "paymnts", stderr=err
        )
    assert status.value.code == 2
    assert err.getvalue().strip() == (
        "change-impact: 'paymnts' is not in the catalog; did you mean 'payments'?"
    )
