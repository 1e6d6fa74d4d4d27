"""Telemetry pipeline debugger: Collector and Data Prepper configs and error logs, known-good
and known-bad, each with the findings (and lines) a reviewer would expect."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis, InputError
from apps.scenarios.otel_pipeline import logcatalog
from common import testing

DATA = Path(__file__).parent / "data" / "otel"


def run(text: str, **params: str) -> Analysis:
    return registry.get("otel-pipeline").analyze(text, params)


def found(a: Analysis) -> set[tuple[str, int | None]]:
    return {(f.rule, f.line) for f in a.findings}


FILE_CASES = [
    ("collector_docs.yaml", "collector", set(), False),
    (
        "collector_broken.yaml",
        "collector",
        {
            ("otel.unknown-type", 9),
            ("otel.memory-limiter-config", 15),
            ("otel.component-removed", 21),
            ("otel.connector-one-sided", 24),
            ("otel.signal-unsupported", 28),
            ("otel.not-configured", 30),
            ("otel.unused", 17),
            ("otel.tls-insecure", 20),
            ("otel.batch-not-last", 29),
            ("otel.memory-limiter-not-first", 29),
            ("otel.no-memory-limiter", 31),
        },
        True,
    ),
    (
        "collector_connectors.yaml",
        "collector",
        {
            ("otel.batch-config", 12),
            ("otel.connector-signals", 29),
            ("otel.duplicate-reference", 43),
            ("otel.bare-env", 19),
            ("otel.resilience-off", 23),
            ("otel.env-required", 15),
            ("otel.deprecated-alias", 20),
        },
        True,
    ),
    ("dataprepper_trace_analytics.yaml", "data-prepper", set(), False),
    (
        "dataprepper_broken.yaml",
        "data-prepper",
        {
            ("dataprepper.buffer-size", 8),
            ("dataprepper.pipeline-missing", 13),
            ("dataprepper.opensearch-index-name", 25),
            ("dataprepper.route-missing", 29),
            ("dataprepper.pipeline-unlinked", 34),
            ("dataprepper.route-unused", 21),
            ("dataprepper.opensearch-plain-http", 24),
            ("dataprepper.opensearch-password-plain", 27),
            ("dataprepper.opensearch-insecure", 28),
            ("dataprepper.opensearch-bulk-size", 30),
            ("dataprepper.opensearch-auth", 38),
        },
        True,
    ),
    (
        "dataprepper_shape.yaml",
        "data-prepper",
        {
            ("dataprepper.no-sink", 1),
            ("dataprepper.source-count", 5),
            ("dataprepper.unknown-plugin", 7),
            ("dataprepper.pipeline-cycle", 14),
            ("dataprepper.opensearch-index-type", 32),
            ("dataprepper.buffer-size", 12),
        },
        True,
    ),
    (
        "errors.log",
        "logs",
        {
            ("log.collector.queue-full", 1),
            ("log.collector.retries-exhausted", 2),
            ("log.collector.unavailable", 2),
            ("log.collector.memory-limit", 3),
            ("log.opensearch.mapping", 4),
            ("log.opensearch.413", 5),
        },
        True,
    ),
]


@pytest.mark.parametrize(
    ("name", "kind", "expected", "fails"), FILE_CASES, ids=[c[0] for c in FILE_CASES]
)
def test_files(name: str, kind: str, expected: set[tuple[str, int]], fails: bool) -> None:
    a = run((DATA / name).read_text())
    assert a.facts["kind"] == kind
    assert found(a) >= expected, sorted(found(a))
    if not expected:
        assert a.findings == []
    assert a.failed is fails


def test_the_reference_error_reads_like_otelcol_and_names_the_line() -> None:
    with translation.override("en"):
        a = run((DATA / "collector_broken.yaml").read_text())
    f = next(f for f in a.findings if f.rule == "otel.not-configured")
    assert f.message == (
        "service::pipelines::traces: references exporter 'otlp/tempo' which is not configured (line 30)"
    )
    assert "'otlp'" in f.fix  # the exporter of the same type that is defined


COLLECTOR_HEAD = """\
receivers:
  otlp:
    protocols:
      grpc:
processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 20
  batch:
exporters:
  debug:
"""

INLINE = [
    (
        "no-exporters",
        COLLECTOR_HEAD + "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n",
        {("otel.no-exporters", 15), ("otel.unused", 12)},
    ),
    (
        "pipeline-type",
        COLLECTOR_HEAD + "service:\n  pipelines:\n    trace:\n      receivers: [otlp]\n"
        "      processors: [memory_limiter, batch]\n      exporters: [debug]\n",
        {("otel.pipeline-type", 15)},
    ),
    (
        "extensions",
        COLLECTOR_HEAD
        + "extensions:\n  health_check:\nservice:\n  extensions: [zpages]\n  pipelines:\n"
        "    logs:\n      receivers: [otlp]\n      processors: [memory_limiter, batch]\n"
        "      exporters: [debug]\n",
        {("otel.not-configured", 16), ("otel.unused", 14)},
    ),
    (
        "duplicate-key",
        COLLECTOR_HEAD.replace("exporters:\n  debug:\n", "exporters:\n  debug:\n  debug:\n")
        + "service:\n  pipelines:\n    logs:\n      receivers: [otlp]\n"
        "      processors: [memory_limiter, batch]\n      exporters: [debug]\n",
        {("otel.duplicate-key", 13)},
    ),
    (
        "zipkin-metrics",
        COLLECTOR_HEAD
        + "  zipkin:\n    endpoint: http://zipkin:9411/api/v2/spans\nservice:\n  pipelines:\n"
        "    metrics:\n      receivers: [otlp]\n      processors: [memory_limiter, batch]\n"
        "      exporters: [zipkin]\n",
        {("otel.signal-unsupported", 20)},
    ),
    (
        "custom-type-and-placeholders",
        COLLECTOR_HEAD
        + "  acmecorp:\n    token: ${env:1BAD}\n    url: ${vault:secret/otel}\nservice:\n"
        "  pipelines:\n    logs:\n      receivers: [otlp]\n      processors: [memory_limiter, batch]\n"
        "      exporters: [acmecorp]\n",
        {("otel.unknown-type", 13), ("otel.placeholder-name", 14), ("otel.placeholder-scheme", 15)},
    ),
    (
        "external-exporters",
        COLLECTOR_HEAD.replace("exporters:\n  debug:\n", "exporters: ${file:exporters.yaml}\n")
        + "service:\n  pipelines:\n    logs:\n      receivers: [otlp]\n"
        "      processors: [memory_limiter, batch]\n      exporters: [otlp_grpc]\n",
        {("otel.not-configured", 17)},
    ),
    (
        "batch-before-k8sattributes",
        COLLECTOR_HEAD
        + "  k8sattributes:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
        "      processors: [memory_limiter, batch, k8sattributes]\n      exporters: [debug]\n",
        {("otel.batch-not-last", 18)},
    ),
    (
        "spanmetrics-ok",
        COLLECTOR_HEAD
        + "connectors:\n  spanmetrics:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
        "      processors: [memory_limiter, batch]\n      exporters: [spanmetrics]\n"
        "    metrics:\n      receivers: [spanmetrics]\n      processors: [memory_limiter, batch]\n"
        "      exporters: [debug]\n",
        set(),
    ),
    (
        "dp-custom-index-missing",
        "app-logs:\n  source:\n    http:\n  route:\n    - errors: '/level == \"ERROR\"'\n  sink:\n"
        '    - opensearch:\n        hosts: ["https://os:9200"]\n        aws:\n          region: eu-west-1\n'
        "        max_retries: 5\n        routes: [errors]\n",
        {("dataprepper.opensearch-index", 7)},
    ),
    (
        "dp-source-missing",
        "raw:\n  source:\n    pipeline:\n      name: entry\n  sink:\n    - stdout:\n",
        {("dataprepper.pipeline-missing", 4)},
    ),
    (
        "logs-opensearch-cluster",
        "[2026-12-04T10:00:00,000][WARN ] rejected execution of coordinating operation "
        "es_rejected_execution_exception write queue\n"
        "org.opensearch.dataprepper Buffer does not have enough capacity left\n"
        "cluster_block_exception: index [logs-1] blocked by: [TOO_MANY_REQUESTS/12/disk usage "
        "exceeded flood-stage watermark, index has read-only-allow-delete block]\n"
        "Limit of total fields [1000] has been exceeded while adding new fields [3]\n",
        {
            ("log.opensearch.rejected", 1),
            ("log.dataprepper.buffer-full", 2),
            ("log.opensearch.read-only", 3),
            ("log.opensearch.total-fields", 4),
        },
    ),
    (
        "logs-collector-start",
        "Error: failed to get config: cannot unmarshal the configuration: decoding failed due to "
        'the following error(s): \'exporters\' unknown type: "jaeger" for id: "jaeger"\n'
        "listen tcp 0.0.0.0:4317: bind: address already in use\n"
        "rpc error: code = Unavailable desc = connection error: tls: failed to verify certificate: "
        "x509: certificate signed by unknown authority\n",
        {
            ("log.collector.unknown-type", 1),
            ("log.collector.port-in-use", 2),
            ("log.collector.tls", 3),
            ("log.collector.unavailable", 3),
        },
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in INLINE], ids=[c[0] for c in INLINE])
def test_inline_cases(text: str, expected: set[tuple[str, int]]) -> None:
    a = run(text)
    assert found(a) >= expected, sorted(found(a))
    if not expected:
        assert a.findings == []


def test_external_sections_soften_reference_errors() -> None:
    a = run(INLINE[6][1])
    f = next(f for f in a.findings if f.rule == "otel.not-configured")
    assert str(f.severity) == "warning"


def test_a_config_with_its_logs_keeps_both_and_numbers_log_lines_apart() -> None:
    with translation.override("en"):
        a = run((DATA / "collector_docs.yaml").read_text(), logs=(DATA / "errors.log").read_text())
    assert a.facts["kind"] == "collector"
    logs = [f for f in a.findings if f.rule.startswith("log.")]
    assert {f.where for f in logs} >= {"logs, line 1", "logs, line 5"}
    assert all(f.line is None for f in logs)
    assert "sending_queue" in " ".join(a.grounding) or any(
        "exporterhelper" in g for g in a.grounding
    )


def test_a_proposed_patch_is_checked_again() -> None:
    scenario = registry.get("otel-pipeline")
    broken = (DATA / "collector_broken.yaml").read_text()
    before = scenario.analyze(broken, {})
    fixed = (DATA / "collector_docs.yaml").read_text()
    result = scenario.check_output(fixed, {}, before)  # type: ignore[attr-defined]
    assert result["ok"] and result["errors"] == 0 and result["remaining"] == []
    assert "otel.not-configured" in result["fixed"]
    partly = broken.replace("otlp/tempo", "otlp")
    again = scenario.check_output(partly, {}, before)  # type: ignore[attr-defined]
    assert not again["ok"] and "otel.not-configured" in again["fixed"]
    assert any(f["rule"] == "otel.signal-unsupported" for f in again["remaining"])


def test_every_cited_document_is_in_the_knowledge_base() -> None:
    corpus = testing.corpus()
    cited = {r for e in logcatalog.CATALOG for r in e.refs if r.endswith(".md")}
    from apps.scenarios.otel_pipeline import collector, dataprepper

    cited |= {
        v for m in (collector, dataprepper) for k, v in vars(m).items() if k.startswith("DOCS_")
    }
    missing = sorted(r for r in cited if not (corpus / r).is_file())
    assert not missing


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n"
    for i in range(8)
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (BOMB, "alias bomb"),
        ("receivers:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 200)), "nested"),
        ("x" * (20 * 1024 * 1024), "MB"),
        ("receivers:\n  otlp: [\n", "does not parse"),
        ("", "paste"),
    ],
    ids=["billion-laughs", "deep", "20MB", "malformed", "empty"],
)
def test_hostile_or_broken_input_is_refused_quickly(text: str, words: str) -> None:
    started = time.monotonic()
    with translation.override("en"), pytest.raises(InputError) as caught:
        run(text)
    assert words in str(caught.value)
    assert time.monotonic() - started < 3


def test_a_huge_log_line_does_not_hang_the_matcher() -> None:
    text = ("a" * 1_500_000) + " sending queue is full\n" + "x\n" * 100_000
    started = time.monotonic()
    a = run(text, kind="logs")
    assert time.monotonic() - started < 5
    assert a.facts["kind"] == "logs"  # the over-long line is cut, never regex-scanned whole


def test_messages_exist_in_russian() -> None:
    with translation.override("ru"):
        a = run((DATA / "collector_broken.yaml").read_text())
    f = next(f for f in a.findings if f.rule == "otel.no-memory-limiter")
    assert "memory_limiter" in f.message and "нет" in f.message


def _manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(settings.BASE_DIR / "manage.py"),
            "scenario",
            "analyze",
            "otel-pipeline",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_line_tells_collector_from_data_prepper_and_exits_for_ci(
    tmp_path: Path,
) -> None:
    bad = _manage(str(DATA / "collector_broken.yaml"))
    assert bad.returncode == 1 and "collector_broken.yaml:30:" in bad.stdout
    good = _manage("--json", str(DATA / "dataprepper_trace_analytics.yaml"))
    assert good.returncode == 0 and '"kind": "data-prepper"' in good.stdout
    logs = _manage("--json", str(DATA / "errors.log"))
    assert logs.returncode == 1 and "log.opensearch.413" in logs.stdout
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    refused = _manage(str(bomb))
    assert refused.returncode == 2 and "line" in refused.stderr


@pytest.mark.skipif(not settings.OTELCOL_BINARY, reason="OTELCOL_BINARY is not set")
def test_otelcol_validate_agrees_when_a_binary_is_configured() -> None:
    a = run((DATA / "collector_broken.yaml").read_text())
    assert any(f.rule == "otel.otelcol-validate" for f in a.findings)
    assert run((DATA / "collector_docs.yaml").read_text()).findings == []


# Output of real otelcol runs, as users recorded them in public issue reports
# (open-telemetry/opentelemetry-demo#1208, opentelemetry-collector-contrib#15291,
# opentelemetry.io#2876, opentelemetry-collector#8866; otelcol 0.87-0.126).
RECORDED_OTELCOL = {
    "receiver-not-configured": (
        'Error: invalid configuration: service::pipelines::metrics: references receiver "spanmetrics" '
        "which is not configured\n2023/10/31 18:57:50 collector server run finished with error: "
        'invalid configuration: service::pipelines::metrics: references receiver "spanmetrics" which '
        "is not configured\n"
    ),
    "unknown-type": (
        "Error: failed to get config: cannot unmarshal the configuration: decoding failed due to the "
        "following error(s):\n\nerror decoding 'exporters': unknown type: \"jaeger\" for id: "
        '"jaeger" (valid values: [loadbalancing prometheusremotewrite syslog debug otlp])\n'
    ),
    "connector-one-sided": (
        "collector server run finished with error: invalid configuration: connectors::spanmetrics: "
        "must be used as both receiver and exporter but is not used as exporter\n"
    ),
    "connector-no-exporter-pipeline": (
        'Error: failed to build pipelines: connector "forward/bugrepro" used as receiver in logs '
        "pipeline but not used in any supported exporter pipeline\n"
    ),
}


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("receiver-not-configured", "log.collector.config-not-configured"),
        ("unknown-type", "log.collector.unknown-type"),
        ("connector-one-sided", "log.collector.connector-unused-side"),
        ("connector-no-exporter-pipeline", "log.collector.connector-unused-side"),
    ],
)
def test_recorded_real_otelcol_errors_are_recognised_in_logs(name: str, rule: str) -> None:
    a = run(RECORDED_OTELCOL[name], kind="logs")
    assert rule in {f.rule for f in a.findings}
    assert all(f.refs for f in a.findings)


def test_recorded_real_otelcol_validate_output_lands_on_the_checkers_line() -> None:
    from apps.scenarios.otel_pipeline.scenario import validate_findings

    config = COLLECTOR_HEAD + (
        "connectors:\n  spanmetrics:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
        "      processors: [memory_limiter, batch]\n      exporters: [debug]\n"
        "    metrics:\n      receivers: [otlp, spanmetrics]\n      processors: [memory_limiter, batch]\n"
        "      exporters: [debug]\n"
    ).replace("connectors:\n  spanmetrics:\n", "")
    ours = run(config).findings
    assert ("otel.not-configured", 20) in {(f.rule, f.line) for f in ours}
    found = validate_findings(RECORDED_OTELCOL["receiver-not-configured"], ours)
    assert len(found) == 1 and found[0].line == 20
    assert found[0].message.startswith(
        "otelcol validate: invalid configuration: service::pipelines::metrics"
    )
    other = validate_findings(RECORDED_OTELCOL["unknown-type"], ours)
    assert other[0].line is None and "unknown type" in other[0].message
