"""Change impact: time from submit to findings, without the model.

    .venv/bin/python bench/change_impact_findings.py [--runs 30] [--services 2000]

`analyze()` of (1) the tests' catalog (8 entities) without Prometheus; (2) a generated
catalog of N components in N/20 systems, each depending on three others and a database,
every tenth providing an API four others consume (multi-document YAML, ~N*17 lines), depth 3,
without Prometheus; (3) the first size's catalog with a real Prometheus (Debian's, on a free port)
backfilled by promtool with a week of service-graph history for 300 of its edges plus 30
edges the catalog does not declare: the two PromQL queries (the edges over 7 days, the
service's traffic by hour) are inside the time. Prints p50 / p95 / max per input.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _summary(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    ms = [t * 1000 for t in (statistics.median(times), p95, times[-1])]
    return "p50 {:.1f} / p95 {:.1f} / max {:.1f} ms".format(*ms)


def _time(runs: int, work: Callable[[], object]) -> list[float]:
    work()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        out.append(time.perf_counter() - started)
    return out


def catalog(n: int, seed: int = 7) -> tuple[str, list[tuple[str, str]]]:
    rng = random.Random(seed)
    docs: list[str] = []
    edges: list[tuple[str, str]] = []
    for g in range(n // 50 + 1):
        docs.append(
            f"apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-{g}\n"
            f"spec:\n  type: team\n  profile:\n    email: team-{g}@example.com\n"
        )
    for s in range(n // 20 + 1):
        docs.append(
            f"apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: system-{s}\n"
            f"spec:\n  owner: team-{s % (n // 50 + 1)}\n"
        )
    for i in range(n):
        deps = sorted({rng.randrange(n) for _ in range(3)} - {i})
        edges += [(f"svc-{i}", f"svc-{d}") for d in deps]
        consumes = sorted({rng.randrange(0, n, 10) for _ in range(4)} - {i})
        lines = [
            "apiVersion: backstage.io/v1alpha1", "kind: Component", "metadata:",
            f"  name: svc-{i}", "spec:", "  type: service", "  lifecycle: production",
            f"  owner: team-{i % (n // 50 + 1)}", f"  system: system-{i // 20}",
            "  dependsOn: [" + ", ".join([f"component:svc-{d}" for d in deps]
                                         + [f"resource:db-{i % 100}"]) + "]",
            "  consumesApis: [" + ", ".join(f"api-{c}" for c in consumes) + "]",
        ]  # fmt: skip
        if i % 10 == 0:
            lines.append(f"  providesApis: [api-{i}]")
            docs.append(
                f"apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: api-{i}\n"
                f"spec:\n  type: openapi\n  owner: team-{i % (n // 50 + 1)}\n  definition: x\n"
            )
        docs.append("\n".join(lines) + "\n")
    for d in range(min(100, n)):
        docs.append(
            f"apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: db-{d}\n"
            "spec:\n  type: database\n  owner: team-0\n"
        )
    return "---\n".join(docs), edges


def history(edges: list[tuple[str, str]], zone: str, step: int = 900) -> str:
    import datetime as dt
    import zoneinfo

    tz = zoneinfo.ZoneInfo(zone)
    end = int(time.time()) - 60
    start = end - 7 * 86400 - 3600
    lines = ["# TYPE traces_service_graph_request counter"]
    for client, server in edges:
        total = 0.0
        for t in range(start, end + 1, step):
            hour = dt.datetime.fromtimestamp(t, tz).hour
            total += (0.2 if hour in (3, 4) else 3.0) * step
            lines.append(
                f'traces_service_graph_request_total{{client="{client}",server="{server}"}} '
                f"{total:.1f} {t}"
            )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--services", default="500,2000", help="catalog sizes, comma-separated")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.utils import translation

    from apps.scenarios.engine import registry
    from apps.scenarios.tests.alertmanager_servers import prometheus_with_history
    from apps.scenarios.tests.change_impact_fixtures import CATALOG

    translation.activate("ru")  # the portal's default language
    scenario = registry.get("change-impact")
    settings.PROMETHEUS_URL = ""
    small = {"service": "payments", "depth": 2, "change": "обновление PostgreSQL"}
    findings = len(scenario.analyze(CATALOG, small).findings)
    times = _time(args.runs, lambda: scenario.analyze(CATALOG, small))
    print(f"{'tests catalog, 8 entities, no Prometheus':52} {_summary(times)}; {findings} findings")

    target = {"service": "svc-10", "depth": 3, "change": "upgrade"}
    sizes = [int(n) for n in args.services.split(",")]
    for size in sizes:
        text, edges = catalog(size)
        result = scenario.analyze(text, target)
        times = _time(args.runs, functools.partial(scenario.analyze, text, target))
        print(
            f"{f'{size} components, depth 3, no Prometheus':52} {_summary(times)}; "
            f"{len(text.splitlines())} lines, {len(text) // 1024} KB, "
            f"{len(result.facts['downstream'])} downstream, "
            f"{len(result.facts['upstream'])} upstream"
        )
    n = sizes[0]  # the size a team's catalog usually has
    text, edges = catalog(n)
    rng = random.Random(3)
    seen = rng.sample(edges, 300) + [(f"svc-{rng.randrange(n)}", "svc-10")] * 1
    seen += [(f"svc-{rng.randrange(n)}", f"svc-{rng.randrange(n)}") for _ in range(30)]
    seen = sorted(set(seen))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        om = history(seen, settings.TIME_ZONE)
        with prometheus_with_history(Path(tmp), om) as url:
            print(
                f"(Prometheus backfilled with {len(seen)} series for {n} components in {time.perf_counter() - started:.0f} s)"
            )
            settings.PROMETHEUS_URL = url
            result = scenario.analyze(text, target)
            times = _time(args.runs, lambda: scenario.analyze(text, target))
            drift = sum(1 for f in result.findings if f.rule.startswith("change-impact.undeclared"))
            print(
                f"{'the same with Prometheus (edges + traffic by hour)':52} {_summary(times)}; "
                f"{result.facts['observed']['edges']} observed edges, {drift} undeclared, "
                f"window from {result.facts['traffic']['window_start']}:00"
            )
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
