"""OpenSearch queries from plain language: how often the query is the expected one, and how
long the page takes to show it.

    .venv/bin/python bench/opensearch_dsl_eval.py [--runs 20] [--model] [--verbose]

Evaluation: the frozen question → expected query pairs over the recorded logs mapping
(apps/scenarios/tests/data/opensearch/logs_mapping.json): bench/eval/opensearch_dsl.jsonl (50,
the development set the rules were written against) and bench/eval/opensearch_dsl_holdout.jsonl
(44, written and frozen before the rules ever saw them). A query counts when it is equivalent
to the expected one (apps/scenarios/opensearch_dsl/equivalence.py: same clauses modulo order,
aggregation names and spelling). Reported per set and language:
  rules        the deterministic intents alone (no answer when no rule applies);
  model        the model alone, given the field list (apps/scenarios/opensearch_dsl/model.py),
               through the portal's inference client to the LLM_BACKENDS of the environment;
               a query that fails the mapping check counts as wrong;
  rules+model  the rules where they understood the whole question, the model's query (when it
               passes the mapping check) for the rest: what the page offers.
Timing: `analyze()` as the page's submit calls it (mapping parsed, question read, query built,
validated and rendered), over every question of both sets, and over a mapping with 2,000 fields.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MAPPING = ROOT / "apps/scenarios/tests/data/opensearch/logs_mapping.json"
SETS = {
    "dev": ROOT / "bench/eval/opensearch_dsl.jsonl",
    "holdout": ROOT / "bench/eval/opensearch_dsl_holdout.jsonl",
}
TZ = "Europe/Moscow"


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def _items(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def big_mapping(n: int = 2000) -> str:
    props: dict[str, Any] = json.loads(MAPPING.read_text())["logs-2026.12.04"]["mappings"][
        "properties"
    ]
    merged: dict[str, Any] = {}
    for i in range(n):
        group = merged.setdefault(f"app{i // 50}", {"properties": {}})
        group["properties"][f"f{i}"] = {"type": "keyword" if i % 3 else "long"}
    return json.dumps({"logs-big": {"mappings": {"properties": {**props, **merged}}}})


def timing(runs: int) -> None:
    from django.utils import translation

    from apps.scenarios.engine import registry

    scenario = registry.get("opensearch-dsl")
    text = MAPPING.read_text()
    questions = [i["question"] for path in SETS.values() for i in _items(path)]
    with translation.override("en"):
        for name, mapping_text in (
            ("logs mapping (48 fields)", text),
            ("2,000-field mapping", big_mapping()),
        ):
            times: list[float] = []
            for _ in range(runs):
                for q in questions:
                    started = time.perf_counter()
                    try:
                        scenario.analyze(mapping_text, {"question": q, "index": "logs-*"})
                    except Exception as exc:  # noqa: BLE001  (InputError: no rule; timed all the same)
                        if type(exc).__name__ != "InputError":
                            raise
                    times.append(time.perf_counter() - started)
            print(
                f"analyze(), {name}: {len(times)} runs, p50 {statistics.median(times) * 1000:.1f} ms, "
                f"p95 {_pct(times, 0.95) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
            )


async def _ask_model(items: list[dict[str, Any]], fields: Any) -> dict[int, tuple[str, Any, str]]:
    from apps.inference import client
    from apps.scenarios.opensearch_dsl import model

    answers: dict[int, tuple[str, Any, str]] = {}
    for item in items:
        prompt = model.prompt(item["question"], fields.field_list(), "logs-*", TZ)
        done = await client.complete(prompt, purpose="bench", max_tokens=400, temperature=0.0)
        got = model.extract(done.text)
        answers[item["key"]] = (
            *(got or ("", None)),
            done.text if done.outcome == "complete" else done.error,
        )
    return answers


def evaluate(use_model: bool, verbose: bool) -> None:
    from apps.scenarios.opensearch_dsl import build, equivalence, intents, mapping, validate

    fields = mapping.parse(MAPPING.read_text(), "logs-*")
    all_items: list[dict[str, Any]] = []
    for name, path in SETS.items():
        for item in _items(path):
            item["set"], item["key"] = name, len(all_items)
            all_items.append(item)
    answers: dict[int, tuple[str, Any, str]] = {}
    if use_model:
        answers = asyncio.run(_ask_model(all_items, fields))
    scores: dict[tuple[str, str, str], list[bool]] = defaultdict(list)
    for item in all_items:
        expected = (item["endpoint"], item["body"])
        built = build.build(intents.read(item["question"], fields), fields, TZ)
        rules_ok = built is not None and equivalence.equivalent(
            (built.endpoint, built.body), expected
        )
        full = built is not None and not built.partial
        row = [("rules", rules_ok)]
        if use_model:
            endpoint, body, raw = answers[item["key"]]
            valid = body is not None and not validate.check(body, fields, endpoint)
            model_ok = valid and equivalence.equivalent((endpoint, body), expected)
            row += [("model", model_ok), ("rules+model", rules_ok if full else model_ok)]
            if verbose and not model_ok:
                print(
                    f"  model wrong [{item['set']} #{item['id']}] {item['question']}\n    {raw[:300]!r}"
                )
        if verbose and not rules_ok:
            print(f"  rules wrong [{item['set']} #{item['id']}] {item['question']}")
        for how, ok in row:
            for lang in (item["lang"], "all"):
                scores[(item["set"], lang, how)].append(ok)
    for (name, lang, how), oks in sorted(scores.items()):
        print(
            f"{name:8} {lang:4} {how:12} {sum(oks):3}/{len(oks):<3} = {100 * sum(oks) / len(oks):5.1f}%"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20, help="timing passes over every question")
    parser.add_argument("--model", action="store_true", help="also ask the model (LLM_BACKENDS)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="opsdesk-bench-")
    # The model path records its calls: a scratch database, never the portal's own.
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/bench.sqlite3"
    os.environ["OPSDESK_VAR"] = scratch
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    if args.model:
        from django.core.management import call_command

        from apps.inference.backends import sync_from_settings

        call_command("migrate", verbosity=0)
        sync_from_settings()
    evaluate(args.model, args.verbose)
    timing(args.runs)


if __name__ == "__main__":
    main()
