"""Known OpenTelemetry Collector components and Data Prepper plugins, with the signals each
supports.

Sources: the "Stability" table at the top of each component's README in
open-telemetry/opentelemetry-collector (receiver/, processor/, exporter/, connector/,
extension/; the core ones are in the knowledge base under
otel/opentelemetry-collector/) and open-telemetry/opentelemetry-collector-contrib, the
"Supported Data Types" tables of connector/README.md, and `otelcol components` output as
shown in otel/opentelemetry.io/content/en/docs/collector/troubleshooting.md. Data Prepper
plugin names are those of the pages under
data-prepper/_data-prepper/pipelines/configuration/{sources,processors,sinks,buffers}.
A component not listed here may still exist in a custom build (ocb): unknown types are
reported as such, with the closest known name when it looks like a typo.
"""

from __future__ import annotations

SIGNALS = ("traces", "metrics", "logs", "profiles")
T, M, L, P = "traces", "metrics", "logs", "profiles"
TML = frozenset({T, M, L})

RECEIVERS: dict[str, frozenset[str]] = {
    # core
    "otlp": frozenset({T, M, L, P}),
    "nop": TML,
    # contrib: traces
    "jaeger": frozenset({T}),
    "zipkin": frozenset({T}),
    "awsxray": frozenset({T}),
    "skywalking": frozenset({T, M}),
    "opencensus": frozenset({T, M}),
    # contrib: metrics
    "prometheus": frozenset({M}),
    "prometheus_simple": frozenset({M}),
    "hostmetrics": frozenset({M}),
    "host_metrics": frozenset({M}),
    "kubeletstats": frozenset({M}),
    "k8s_cluster": frozenset({M, L}),
    "docker_stats": frozenset({M}),
    "podman_stats": frozenset({M}),
    "statsd": frozenset({M}),
    "carbon": frozenset({M}),
    "collectd": frozenset({M}),
    "influxdb": frozenset({M}),
    "httpcheck": frozenset({M}),
    "sshcheck": frozenset({M}),
    "jmx": frozenset({M}),
    "snmp": frozenset({M}),
    "redis": frozenset({M}),
    "postgresql": frozenset({M}),
    "mysql": frozenset({M}),
    "mongodb": frozenset({M}),
    "mongodbatlas": frozenset({M, L}),
    "elasticsearch": frozenset({M}),
    "rabbitmq": frozenset({M}),
    "nginx": frozenset({M}),
    "apache": frozenset({M}),
    "haproxy": frozenset({M}),
    "memcached": frozenset({M}),
    "zookeeper": frozenset({M}),
    "kafkametrics": frozenset({M}),
    "sqlserver": frozenset({M, L}),
    "oracledb": frozenset({M, L}),
    "vcenter": frozenset({M}),
    "windowsperfcounters": frozenset({M}),
    "awsecscontainermetrics": frozenset({M}),
    "googlecloudspanner": frozenset({M}),
    "prometheusremotewrite": frozenset({M}),
    # contrib: logs
    "filelog": frozenset({L}),
    "journald": frozenset({L}),
    "syslog": frozenset({L}),
    "tcplog": frozenset({L}),
    "udplog": frozenset({L}),
    "fluentforward": frozenset({L}),
    "k8s_events": frozenset({L}),
    "k8sobjects": frozenset({L}),
    "windowseventlog": frozenset({L}),
    "awscloudwatch": frozenset({L}),
    "loki": frozenset({L}),
    # contrib: several signals
    "kafka": TML,
    "otlpjsonfile": TML,
    "receiver_creator": TML,
    "sqlquery": frozenset({M, L}),
    "splunk_hec": frozenset({M, L}),
    "signalfx": frozenset({M, L}),
    "datadog": frozenset({T, M, L}),
    "googlecloudpubsub": TML,
    "azureeventhub": frozenset({M, L}),
    "pulsar": TML,
    "solace": frozenset({T}),
}

PROCESSORS: dict[str, frozenset[str]] = {
    "batch": TML,
    "memory_limiter": frozenset({T, M, L, P}),
    "queue_batch": TML,
    "attributes": TML,
    "resource": TML,
    "resourcedetection": TML,
    "k8sattributes": frozenset({T, M, L, P}),
    "filter": TML,
    "transform": TML,
    "redaction": TML,
    "groupbyattrs": TML,
    "routing": TML,
    "remotetap": TML,
    "geoip": TML,
    "probabilistic_sampler": frozenset({T, L}),
    "tail_sampling": frozenset({T}),
    "span": frozenset({T}),
    "groupbytrace": frozenset({T}),
    "metricstransform": frozenset({M}),
    "cumulativetodelta": frozenset({M}),
    "deltatocumulative": frozenset({M}),
    "deltatorate": frozenset({M}),
    "metricsgeneration": frozenset({M}),
    "interval": frozenset({M}),
    "logdedup": frozenset({L}),
}

EXPORTERS: dict[str, frozenset[str]] = {
    "otlp": frozenset({T, M, L, P}),
    "otlp_grpc": frozenset({T, M, L, P}),
    "otlphttp": frozenset({T, M, L, P}),
    "otlp_http": frozenset({T, M, L, P}),
    "debug": frozenset({T, M, L, P}),
    "nop": TML,
    "prometheus": frozenset({M}),
    "prometheusremotewrite": frozenset({M}),
    "kafka": TML,
    "file": frozenset({T, M, L, P}),
    "loadbalancing": TML,
    "elasticsearch": TML,
    "opensearch": frozenset({T, L}),
    "clickhouse": TML,
    "splunk_hec": TML,
    "datadog": TML,
    "zipkin": frozenset({T}),
    "awsxray": frozenset({T}),
    "awsemf": frozenset({M}),
    "awscloudwatchlogs": frozenset({L}),
    "awss3": TML,
    "awskinesis": TML,
    "googlecloud": TML,
    "googlemanagedprometheus": frozenset({M}),
    "azuremonitor": TML,
    "influxdb": TML,
    "signalfx": TML,
    "carbon": frozenset({M}),
    "syslog": frozenset({L}),
    "sentry": frozenset({T}),
    "coralogix": TML,
    "otelarrow": TML,
    "pulsar": TML,
    "rabbitmq": TML,
}

# Connector -> the (exporter pipeline signal, receiver pipeline signal) pairs it supports.
_SAME = frozenset({(T, T), (M, M), (L, L)})
_TO_METRICS = frozenset({(T, M), (M, M), (L, M)})
CONNECTORS: dict[str, frozenset[tuple[str, str]]] = {
    "forward": _SAME,
    "routing": _SAME,
    "failover": _SAME,
    "roundrobin": _SAME,
    "count": _TO_METRICS,
    "sum": _TO_METRICS,
    "signaltometrics": _TO_METRICS,
    "spanmetrics": frozenset({(T, M)}),
    "servicegraph": frozenset({(T, M)}),
    "exceptions": frozenset({(T, M), (T, L)}),
    "grafanacloud": frozenset({(T, M)}),
    "datadog": frozenset({(T, M), (T, T)}),
    "otlpjson": frozenset({(L, T), (L, M), (L, L)}),
}

EXTENSIONS = frozenset(
    {
        "health_check", "healthcheckv2", "pprof", "zpages", "file_storage", "db_storage",
        "memory_limiter", "basicauth", "bearertokenauth", "oauth2client", "oidc",
        "headers_setter", "sigv4auth", "asapauth", "k8s_observer", "docker_observer",
        "host_observer", "ecs_observer", "jaegerremotesampling", "opamp", "ack",
        "awsproxy", "k8s_leader_elector", "redis_storage",
    }
)  # fmt: skip

# Types that existed and were removed: what to use instead.
REMOVED = {
    ("exporters", "logging"): "debug",
    ("exporters", "jaeger"): "otlp (Jaeger accepts OTLP natively)",
    ("exporters", "jaeger_thrift"): "otlp",
    ("exporters", "loki"): "otlphttp to Loki's OTLP endpoint",
    ("exporters", "sapm"): "otlphttp",
    ("exporters", "opencensus"): "otlp",
    ("processors", "spanmetrics"): "the spanmetrics connector",
    ("processors", "servicegraph"): "the servicegraph connector",
}
# Deprecated spellings that still work: the name to move to.
ALIASES = {("exporters", "otlphttp"): "otlp_http"}

SECTIONS = {
    "receivers": RECEIVERS,
    "processors": PROCESSORS,
    "exporters": EXPORTERS,
}

# --- Data Prepper ----------------------------------------------------------------------------

DP_SOURCES = frozenset(
    {
        "confluence", "jira", "documentdb", "dynamodb", "file", "http", "iceberg", "kafka",
        "kinesis", "opensearch_api", "opensearch", "otel_logs_source", "otel_metrics_source",
        "otel_trace_source", "otlp", "pipeline", "rds", "s3", "sqs", "random",
    }
)  # fmt: skip
DP_PROCESSORS = frozenset(
    {
        "add_entries", "aggregate", "anomaly_detector", "aws_lambda", "convert_type",
        "convert_entry_type", "copy_values", "csv", "date", "decompress", "delay",
        "delete_entries", "dissect", "drop_events", "flatten", "geoip", "grok", "key_value",
        "list_to_map", "lowercase_string", "map_to_list", "ml_inference", "obfuscate",
        "otel_apm_service_map", "otel_metrics", "otel_trace_group", "otel_traces",
        "otel_trace_raw", "parse_ion", "parse_json", "parse_xml", "rename_keys",
        "select_entries", "service_map", "service_map_stateful", "split_event", "split_string",
        "string_converter", "substitute_string", "trace_peer_forwarder", "translate",
        "trim_string", "truncate", "uppercase_string", "user_agent", "write_json",
    }
)  # fmt: skip
DP_SINKS = frozenset({"aws_lambda", "file", "opensearch", "pipeline", "prometheus", "s3", "stdout"})
DP_BUFFERS = frozenset({"bounded_blocking", "kafka"})
DP_INDEX_TYPES = frozenset(
    {
        "custom", "trace-analytics-raw", "trace-analytics-plain-raw",
        "trace-analytics-service-map", "log-analytics", "log-analytics-plain",
        "metric-analytics", "metric-analytics-plain", "management_disabled",
    }
)  # fmt: skip
