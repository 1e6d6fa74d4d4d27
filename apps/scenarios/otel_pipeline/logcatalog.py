"""Known error messages of the Collector, Data Prepper and the OpenSearch bulk API, matched
against pasted logs. Each entry says what the message means, the usual cause and the fix,
and cites the page of the knowledge base that explains it (Finding.refs)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.scenarios.engine.findings import Finding, Severity

_OTEL = "otel/opentelemetry.io/content/en/docs/collector/"
_COL = "otel/opentelemetry-collector/"
_DP = "data-prepper/_data-prepper/"
MAX_LINES = 50_000


@dataclass(frozen=True)
class Entry:
    id: str
    severity: Severity
    pattern: re.Pattern[str]
    title: str | Promise
    cause: str | Promise
    fix: str | Promise
    refs: tuple[str, ...]


# A line that matches the first entry is not also reported under the second: the second
# says the same thing less precisely.
SHADOWS = {
    "opensearch.413": {"collector.http-413"},
    "opensearch.rejected": {"collector.throttled"},
    "collector.grpc-too-large": {"collector.throttled"},
    "collector.retries-exhausted": {"collector.retrying", "collector.permanent"},
    "dataprepper.request-too-large": {"collector.http-413", "opensearch.413"},
}


def _e(
    id: str,
    sev: Severity,
    pattern: str,
    title: str | Promise,
    cause: str | Promise,
    fix: str | Promise,
    *refs: str,
) -> Entry:
    return Entry(id, sev, re.compile(pattern, re.I), title, cause, fix, refs)


CATALOG: list[Entry] = [
    _e(
        "collector.queue-full", Severity.ERROR,
        r"sending_queue is full|sending queue is full|Dropping data because sending_queue",
        gettext_lazy("Exporter queue full: data dropped"),
        gettext_lazy("The backend is slower than the inflow or unreachable, and the exporter's sending queue filled up; new data is rejected."),
        gettext_lazy("Find why the backend is slow (its errors above); raise sending_queue.queue_size or use a persistent queue (storage: file_storage) to ride out outages; watch otelcol_exporter_queue_size against otelcol_exporter_queue_capacity."),
        _COL + "exporter/exporterhelper/README.md", _OTEL + "internal-telemetry.md", _OTEL + "resiliency.md", "sending_queue",
    ),
    _e(
        "collector.retries-exhausted", Severity.ERROR,
        r"no more retries left|Exporting failed\. Dropping data|max elapsed time expired",
        gettext_lazy("Export failed for good: data dropped after retries"),
        gettext_lazy("Every retry of a batch failed within retry_on_failure.max_elapsed_time (default 300 s), or the error was permanent."),
        gettext_lazy("Fix the backend error logged with it; for long outages raise max_elapsed_time and the queue, or add a persistent queue."),
        _COL + "exporter/exporterhelper/README.md", _OTEL + "troubleshooting.md", "retry_on_failure",
    ),
    _e(
        "collector.retrying", Severity.WARNING,
        r"Exporting failed\. Will retry the request after interval|Exporting failed\. Will retry",
        gettext_lazy("Export failing, being retried"),
        gettext_lazy("The backend refused or did not answer; the exporter retries with back-off and data waits in the queue."),
        gettext_lazy("Look at the error in the same line; if it lasts, the queue fills and data is dropped."),
        _COL + "exporter/exporterhelper/README.md", "retry_on_failure",
    ),
    _e(
        "collector.memory-limit", Severity.ERROR,
        r"data refused due to high memory usage|Memory usage is above (soft|hard) limit|memory limiter.*(refus|forc)",
        gettext_lazy("Memory limiter refusing data"),
        gettext_lazy("The collector's heap passed the memory_limiter soft limit, so receivers get errors and clients must retry (or lose data)."),
        gettext_lazy("Give the collector more memory or scale out; check for a stuck exporter whose queue holds memory; set GOMEMLIMIT to about 80 percent of the hard limit."),
        _COL + "processor/memorylimiterprocessor/README.md", _OTEL + "scaling.md", "memory_limiter",
    ),
    _e(
        "collector.unavailable", Severity.ERROR,
        r"code = Unavailable|connection refused|no such host|i/o timeout|connect: network is unreachable",
        gettext_lazy("Backend unreachable"),
        gettext_lazy("The exporter cannot connect: wrong endpoint or port, DNS, a firewall, or the backend is down."),
        gettext_lazy("Check the exporter's endpoint (host:port for gRPC, a URL for HTTP) and that it is reachable from the collector's host or pod."),
        _OTEL + "troubleshooting.md", _COL + "exporter/otlpexporter/README.md", "endpoint",
    ),
    _e(
        "collector.deadline", Severity.WARNING,
        r"DeadlineExceeded|context deadline exceeded",
        gettext_lazy("Export timed out"),
        gettext_lazy("The backend did not answer within the exporter's timeout (default 5 s)."),
        gettext_lazy("Check the backend's latency; raise timeout or reduce the batch size (sending_queue.batch.max_size or send_batch_max_size)."),
        _COL + "exporter/exporterhelper/README.md", "timeout",
    ),
    _e(
        "collector.tls", Severity.ERROR,
        r"x509: |certificate signed by unknown authority|tls: failed to verify certificate|authentication handshake failed",
        gettext_lazy("TLS verification failed"),
        gettext_lazy("The backend's certificate is not trusted by the collector, or its name does not match the endpoint."),
        gettext_lazy("Give tls.ca_file with the CA that signed it and connect by the name in the certificate; do not switch to insecure."),
        _COL + "config/configtls/README.md", "ca_file",
    ),
    _e(
        "collector.grpc-too-large", Severity.ERROR,
        r"ResourceExhausted.*(larger than max|message larger)|received message larger than max",
        gettext_lazy("gRPC message too large"),
        gettext_lazy("A batch is bigger than the receiving side's max_recv_msg_size_mib (4 MiB by default)."),
        gettext_lazy("Cap batches (send_batch_max_size, or sending_queue.batch.max_size with sizer: bytes) or raise max_recv_msg_size_mib on the receiver."),
        _COL + "config/configgrpc/README.md", _COL + "processor/batchprocessor/README.md", "max_recv_msg_size_mib",
    ),
    _e(
        "opensearch.413", Severity.ERROR,
        r"\b413\b.*(opensearch|bulk)|(opensearch|bulk).*\b413\b|http\.max_content_length|content length .* exceeds",
        gettext_lazy("OpenSearch refused a bulk request as too large (413)"),
        gettext_lazy("The bulk request exceeds OpenSearch's http.max_content_length (100 MB by default) or a proxy's limit."),
        gettext_lazy("Lower the sink's bulk_size (MiB, default 5); documents larger than bulk_size are sent one by one."),
        _DP + "pipelines/configuration/sinks/opensearch.md", "bulk_size", "413",
    ),
    _e(
        "opensearch.rejected", Severity.ERROR,
        r"es_rejected_execution_exception|rejected execution of .*(write|bulk)|(opensearch|bulk).*\b429\b",
        gettext_lazy("OpenSearch write queue full (rejected execution)"),
        gettext_lazy("The cluster's write thread pool queue is full: it indexes slower than the pipelines send."),
        gettext_lazy("Reduce sink concurrency (workers) or bulk_size, add data nodes or shards; the sink retries with back-off."),
        _DP + "pipelines/configuration/sinks/opensearch.md", "max_retries",
    ),
    _e(
        "collector.http-413", Severity.ERROR,
        r"(HTTP Status Code|status code|status) 413|Request Entity Too Large",
        gettext_lazy("Backend refused the payload as too large (413)"),
        gettext_lazy("The exported request is larger than the backend (or a proxy in front of it) accepts."),
        gettext_lazy("Cap the batch size in bytes (sending_queue.batch with sizer: bytes and max_size) or raise the proxy's body size limit."),
        _COL + "exporter/exporterhelper/README.md", _COL + "exporter/otlphttpexporter/README.md", "413",
    ),
    _e(
        "collector.throttled", Severity.WARNING,
        r"(HTTP Status Code|status code|status) 429|Too Many Requests|code = ResourceExhausted",
        gettext_lazy("Backend throttling (429 / ResourceExhausted)"),
        gettext_lazy("The backend rate-limits this collector; retries are delayed by its Retry-After."),
        gettext_lazy("Ask for a higher quota or reduce volume (sampling, filtering); keep retries and the queue on so data waits."),
        _COL + "exporter/exporterhelper/README.md", "retry_on_failure",
    ),
    _e(
        "collector.permanent", Severity.ERROR,
        r"Permanent error|(HTTP Status Code|status code) 400|code = InvalidArgument",
        gettext_lazy("Backend rejected the data permanently"),
        gettext_lazy("The backend answered that the data is invalid (400 / InvalidArgument); it is not retried."),
        gettext_lazy("Read the backend's message in the line: usually a schema, attribute limit or auth header problem."),
        _COL + "exporter/exporterhelper/README.md",
    ),
    _e(
        "collector.config-not-configured", Severity.ERROR,
        r"references (receiver|processor|exporter|connector|extension) .* which is not configured|which is not configured",
        gettext_lazy("Configuration references an undefined component"),
        gettext_lazy("A pipeline lists a component id that is not defined in its section; the collector does not start."),
        gettext_lazy("Define the component or fix the id (type/name) in service::pipelines; paste the config here to see the line."),
        _OTEL + "configuration.md",
    ),
    _e(
        "collector.connector-unused-side", Severity.ERROR,
        r"must be used as both receiver and exporter|used as (receiver|exporter) in \w+ pipeline but not used in any supported (exporter|receiver) pipeline",
        gettext_lazy("Connector used on one side only"),
        gettext_lazy("A connector joins two pipelines: it must be an exporter in one and a receiver in another, with a signal pair it supports."),
        gettext_lazy("Add it to the receivers (or exporters) of the pipeline that should take its output; paste the config here to see the pair."),
        _COL + "connector/README.md",
    ),
    _e(
        "collector.unknown-type", Severity.ERROR,
        r"unknown type: \"?[\w/]+\"? for id|'(receivers|processors|exporters|extensions|connectors)' unknown type",
        gettext_lazy("Component type not in this collector build"),
        gettext_lazy("The distribution you run does not include that component (core vs contrib vs a custom build), or its name is misspelled."),
        gettext_lazy("Run `otelcol components` for this binary; switch to otelcol-contrib or add the component to your ocb build."),
        _OTEL + "distributions.md", _OTEL + "troubleshooting.md", "otelcol components",
    ),
    _e(
        "collector.port-in-use", Severity.ERROR,
        r"address already in use|bind: permission denied",
        gettext_lazy("Receiver cannot listen on its port"),
        gettext_lazy("Another process (often a second collector) holds the port, or a port below 1024 needs privileges."),
        gettext_lazy("Change the receiver's endpoint or stop the other process."),
        _OTEL + "troubleshooting.md", "endpoint",
    ),
    _e(
        "collector.scrape-failed", Severity.WARNING,
        r"Failed to scrape Prometheus endpoint|scrape.*(failed|error)",
        gettext_lazy("Prometheus scrape failed"),
        gettext_lazy("A scrape target is down, slow or answers something that is not the Prometheus format."),
        gettext_lazy("Check the target URL from the collector's host; raise scrape_timeout for slow targets."),
        _COL + "docs/scraping-receivers.md", "prometheus",
    ),
    _e(
        "opensearch.mapping", Severity.ERROR,
        r"mapper_parsing_exception|failed to parse field|illegal_argument_exception.*mapper|mapper \[[^\]]+\] cannot be changed",
        gettext_lazy("Mapping conflict: documents rejected"),
        gettext_lazy("A field arrives with a type that differs from the index mapping (e.g. a string where a number was mapped first)."),
        gettext_lazy("Normalise the field in the pipeline (convert_type, rename_keys) or map it explicitly in an index template (template_file); failed documents go to the DLQ if one is set."),
        _DP + "pipelines/configuration/sinks/opensearch.md", _DP + "pipelines/configuration/processors/convert-entry-type.md", _DP + "pipelines/dlq.md", "template_file",
    ),
    _e(
        "opensearch.total-fields", Severity.ERROR,
        r"Limit of total fields \[\d+\].* exceeded",
        gettext_lazy("Too many fields in the index (mapping explosion)"),
        gettext_lazy("Free-form keys (user ids, URLs) become new fields until index.mapping.total_fields.limit is reached."),
        gettext_lazy("Drop or flatten dynamic keys (delete_entries, select_entries, flatten) or map them as flat_object."),
        _DP + "pipelines/configuration/processors/delete-entries.md", _DP + "pipelines/configuration/processors/select-entries.md", "total_fields",
    ),
    _e(
        "opensearch.read-only", Severity.CRITICAL,
        r"cluster_block_exception|read[_-]only[_-]allow[_-]delete|flood[ _-]stage",
        gettext_lazy("Index blocked read-only: disk flood stage"),
        gettext_lazy("A data node passed the flood-stage disk watermark (95 percent), so OpenSearch made its indices read-only; every write fails."),
        gettext_lazy("Free disk (delete old indices, ISM policy) — the block is released automatically once usage falls below the high watermark."),
        _DP + "pipelines/configuration/sinks/opensearch.md", "ism_policy_file",
    ),
    _e(
        "opensearch.circuit-breaker", Severity.ERROR,
        r"circuit_breaking_exception|\[parent\] Data too large",
        gettext_lazy("OpenSearch circuit breaker tripped"),
        gettext_lazy("The node's heap is nearly full; large bulk requests are refused to protect it."),
        gettext_lazy("Lower bulk_size; give the data nodes more heap or more nodes."),
        _DP + "pipelines/configuration/sinks/opensearch.md", "bulk_size",
    ),
    _e(
        "opensearch.auth", Severity.ERROR,
        r"security_exception|\b401\b.*Unauthorized|Unauthorized.*\b401\b|no permissions for \[indices:|\b403\b.*Forbidden",
        gettext_lazy("OpenSearch refused the credentials or permissions"),
        gettext_lazy("Wrong username/password, an expired secret, or a role without write permission on the index pattern."),
        gettext_lazy("Check the sink's username/password (or aws role) and give the role indices:data/write/bulk* and create_index on the index pattern."),
        _DP + "pipelines/configuration/sinks/opensearch.md", "username", "password",
    ),
    _e(
        "opensearch.index-missing", Severity.ERROR,
        r"index_not_found_exception|no such index",
        gettext_lazy("Index does not exist"),
        gettext_lazy("The index (or alias) the sink writes to does not exist and may not be auto-created."),
        gettext_lazy("Create it or its index template first, or let the sink manage it (index_type, template_file)."),
        _DP + "pipelines/configuration/sinks/opensearch.md", "index",
    ),
    _e(
        "opensearch.version-conflict", Severity.WARNING,
        r"version_conflict_engine_exception",
        gettext_lazy("Document version conflict"),
        gettext_lazy("A document with the same id was written with a newer version, or action: create met an existing id."),
        gettext_lazy("Check document_id / document_version; use action: index or upsert when overwriting is intended."),
        _DP + "pipelines/configuration/sinks/opensearch.md", "document_version",
    ),
    _e(
        "dataprepper.buffer-full", Severity.ERROR,
        r"Buffer does not have enough capacity|TimeoutException.*buffer|Timed out (waiting for|writing to) (the )?buffer|buffer is full",
        gettext_lazy("Data Prepper buffer full"),
        gettext_lazy("Processors or sinks drain the buffer slower than the source fills it; sources time out writing and HTTP sources answer 408/429."),
        gettext_lazy("Find the slow stage (sink errors, heavy grok); raise workers, buffer_size, or scale out."),
        _DP + "pipelines/configuration/buffers/bounded-blocking.md", _DP + "managing-data-prepper/monitoring.md", "buffer_size",
    ),
    _e(
        "dataprepper.request-too-large", Severity.ERROR,
        r"requestsTooLarge|exceeds the (maximum|buffer) capacity|larger than the buffer capacity",
        gettext_lazy("Source request larger than the buffer (413)"),
        gettext_lazy("A single HTTP request carries more events than the pipeline's buffer can hold."),
        gettext_lazy("Send smaller requests or raise buffer_size (and max_request_length of the source)."),
        _DP + "pipelines/configuration/sources/http.md", _DP + "pipelines/configuration/buffers/bounded-blocking.md", "413",
    ),
    _e(
        "dataprepper.dlq", Severity.WARNING,
        r"(failed to write to|writing to|written to|sent to|sending to) (the )?(DLQ|dead[- ]letter)|(DLQ|dead[- ]letter) ?(writer|write)? ?(failed|error)",
        gettext_lazy("Documents sent to (or failing to reach) the dead-letter queue"),
        gettext_lazy("The sink could not index some documents (mapping, size, auth) and moved them to the DLQ — or the DLQ itself fails."),
        gettext_lazy("Read the DLQ entries for the OpenSearch error of each; fix the cause and replay them."),
        _DP + "pipelines/dlq.md", "dlq",
    ),
    _e(
        "dataprepper.pipeline-config", Severity.ERROR,
        r"Pipeline configuration|InvalidPluginConfigurationException|No plugin found|Failed to construct pipeline|Connected pipeline",
        gettext_lazy("Data Prepper refused the pipeline configuration"),
        gettext_lazy("A plugin name, a required setting or a pipeline-to-pipeline link is wrong; the pipeline does not start."),
        gettext_lazy("Paste the pipelines file here: the checker points at the line."),
        _DP + "pipelines/pipelines.md",
    ),
]  # fmt: skip


def match(text: str) -> list[Finding]:
    """One finding per catalog entry seen: the first line that matched, and how often."""
    seen: dict[str, tuple[int, str, int]] = {}
    for number, line in enumerate(text.splitlines()[:MAX_LINES], start=1):
        if len(line) > 4000:
            line = line[:4000]
        hits = [e.id for e in CATALOG if e.pattern.search(line)]
        shadowed = {s for h in hits for s in SHADOWS.get(h, ())}
        # A line can say two things: "Exporting failed. Dropping data" and why
        # ("connection refused"); each is its own finding.
        for entry_id in hits:
            if entry_id in shadowed:
                continue
            first = seen.get(entry_id)
            seen[entry_id] = (first[0], first[1], first[2] + 1) if first else (number, line, 1)
    out = []
    for entry in CATALOG:
        if entry.id not in seen:
            continue
        number, line, count = seen[entry.id]
        out.append(
            Finding(
                entry.severity,
                f"log.{entry.id}",
                str(entry.title) + (" " + _("(%(n)d lines)") % {"n": count} if count > 1 else ""),
                line=number,
                evidence=line.strip()[:500],
                why=str(entry.cause),
                fix=str(entry.fix),
                refs=entry.refs,
                data={"count": count},
            )
        )
    return out
