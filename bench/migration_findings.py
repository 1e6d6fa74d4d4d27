"""Migration checklist: time from submit to findings and checklist, without the model.

    .venv/bin/python bench/migration_findings.py [--runs 50] [--live-runs 15] [--indices 5000]

OpenSearch: the seed question (1.3.7 → 2.9.0, opensearch.yml, `_cat/plugins` with a custom
plugin) with the index versions of N indices (a third written by Elasticsearch 6.x: to
reindex); RabbitMQ: 3.11.28 → 3.12.14 → 3.13.7 → 4.0.5 with rabbitmq.conf and advanced.config,
and an advanced.config of 2,000 static shovels (the Erlang-term parser's worst everyday case).
Live: a real RabbitMQ node started by the script on its own ports (the test helper's), 300
queues (a third under a mirroring policy); times `live.read()` through the management API
plus `analyze()`, the page's path when a target is picked. Prints p50 / p95 / max per input.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "apps/scenarios/tests/data/migration"
MASK = 0x08000000


def _summary(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    ms = [t * 1000 for t in (statistics.median(times), p95, times[-1])]
    return "p50 {:.1f} / p95 {:.1f} / max {:.1f} ms".format(*ms)


def _time(runs: int, work: Callable[[], object]) -> list[float]:
    work()  # warm: imports, the translation catalogue
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        out.append(time.perf_counter() - started)
    return out


def index_settings(n: int) -> str:
    created = (6080299, 7100299, 1030799 ^ MASK)
    return json.dumps(
        {
            f"logs-{i:05d}": {"settings": {"index.version.created": str(created[i % 3])}}
            for i in range(n)
        }
    )


def shovels(n: int) -> str:
    rows = ",\n".join(
        f'   {{shovel_{i}, [{{source, [{{protocol, amqp091}}, {{uris, ["amqp://mq-{i % 3}"]}}, '
        f'{{queue, <<"orders.{i}">>}}]}}, {{destination, [{{uris, ["amqp://dr"]}}]}}]}}'
        for i in range(n)
    )
    return f"[\n {{rabbit, [{{loopback_users, []}}]}},\n {{rabbitmq_shovel, [{{shovels, [\n{rows}\n ]}}]}}\n].\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--live-runs", type=int, default=15)
    parser.add_argument("--indices", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.utils import translation

    from apps.scenarios.engine import registry

    translation.activate("ru")  # the portal's default language
    scenario = registry.get("migration")
    seed = {
        "product": "opensearch",
        "from_version": "1.3.7",
        "to_version": "2.9.0",
        "plugins": (DATA / "cat_plugins-1.3.txt").read_text(),
        "index_settings": index_settings(args.indices),
    }
    yml = (DATA / "opensearch-1.3.yml").read_text()
    analysis = scenario.analyze(yml, seed)
    print(
        f"OpenSearch seed, {args.indices} indices ({len(analysis.findings)} findings, "
        f"{len(analysis.facts['steps'])} steps): {_summary(_time(args.runs, lambda: scenario.analyze(yml, seed)))}"
    )
    rabbit = {
        "product": "rabbitmq",
        "from_version": "3.11.28",
        "through": "3.12.14, 3.13.7",
        "to_version": "4.0.5",
        "advanced_config": (DATA / "advanced.config").read_text(),
    }
    conf = (DATA / "rabbitmq.conf").read_text()
    print(
        f"RabbitMQ 3.11 → 4.0, three hops, config files: "
        f"{_summary(_time(args.runs, lambda: scenario.analyze(conf, rabbit)))}"
    )
    big = {**rabbit, "advanced_config": shovels(2000)}
    print(
        f"RabbitMQ, advanced.config of 2,000 shovels ({len(big['advanced_config']) // 1024} KB): "
        f"{_summary(_time(max(5, args.runs // 5), lambda: scenario.analyze('', big)))}"
    )
    if args.live_runs:
        from apps.scenarios.migration import live
        from apps.scenarios.tests.rabbitmq_servers import PASSWORD, USER, running

        with running(
            ["quorum_queue", "implicit_default_bindings", "virtual_host_metadata"]
        ) as node:
            node.api(
                "PUT",
                "policies/%2F/ha-orders",
                {"pattern": "^orders\\.", "definition": {"ha-mode": "all"}},
            )
            for i in range(300):
                name = f"orders.{i}" if i % 3 == 0 else f"work.{i}"
                args_ = {"x-queue-type": "quorum"} if i % 3 == 1 else {}
                node.api("PUT", f"queues/%2F/{name}", {"durable": True, "arguments": args_})
            params = {"product": "rabbitmq", "from_version": "3.10.8", "to_version": "3.11.28"}

            def page() -> object:
                return scenario.analyze(
                    "", {**params, "live": live.read(node.api_url, USER, PASSWORD)}
                )

            print(
                f"RabbitMQ live: management API read (300 queues) + analysis: "
                f"{_summary(_time(args.live_runs, page))}"
            )
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
