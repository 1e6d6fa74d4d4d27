"""OpenSearch upgrade rules, from "Upgrading OpenSearch", "Rolling Upgrade" and "Breaking
changes" of the OpenSearch documentation: the supported upgrade paths (adjacent majors only,
2.19 the minimum for 3.x), which indices a version still reads (by the Lucene version that
wrote them, from `index.version.created`), the settings and plugins a version removed or
deprecated."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _lazy

from apps.scenarios.migration.steps import Cite
from apps.scenarios.migration.versions import Hop

DOCS = "https://docs.opensearch.org/latest"
_GUIDE = f"{DOCS}/install-and-configure/upgrade-opensearch/index/"
_GUIDE_MD = "_install-and-configure/upgrade-opensearch/index.md"
UPGRADE = Cite("Upgrading OpenSearch", _GUIDE, path=_GUIDE_MD)
ROLLING = Cite(
    "Rolling Upgrade",
    f"{DOCS}/install-and-configure/upgrade-opensearch/rolling-upgrade/",
    path="_install-and-configure/upgrade-opensearch/rolling-upgrade.md",
)
BREAKING = Cite("Breaking changes", f"{DOCS}/breaking-changes/", path="_about/breaking-changes.md")
COMPAT = Cite("Upgrading OpenSearch", _GUIDE, "Index compatibility reference", _GUIDE_MD)
PLUGINS = Cite("Upgrading OpenSearch", _GUIDE, "Review plugin compatibility", _GUIDE_MD)
SNAPSHOT = Cite("Upgrading OpenSearch", _GUIDE, "Take a snapshot", _GUIDE_MD)
BACKUP = Cite("Upgrading OpenSearch", _GUIDE, "Back up configuration files", _GUIDE_MD)
REINDEX = Cite(
    "Reindex document",
    f"{DOCS}/api-reference/document-apis/reindex/",
    path="_api-reference/document-apis/reindex.md",
)

# Adjacent majors only; the oldest release of the source major a target major accepts.
HOPS: tuple[Hop, ...] = tuple(
    [Hop((1, m), (1, n)) for m in range(0, 3) for n in range(m + 1, 4)]
    + [Hop((1, 3), (2, n)) for n in range(0, 20)]
    + [Hop((2, m), (2, n)) for m in range(0, 19) for n in range(m + 1, 20)]
    + [Hop((2, 19), (3, n)) for n in range(0, 10)]
    + [Hop((3, m), (3, n)) for m in range(0, 9) for n in range(m + 1, 10)]
)

# `index.version.created` of an OpenSearch index has this bit set (Version.MASK); without it
# the number is an Elasticsearch version id.
OPENSEARCH_MASK = 0x08000000
# Lucene major by (product, major); a Lucene version reads indices of its own and the
# previous major ("Index compatibility reference").
LUCENE = {("es", 5): 6, ("es", 6): 7, ("es", 7): 8, ("os", 1): 8, ("os", 2): 9, ("os", 3): 10}


@dataclass(frozen=True)
class Created:
    product: str  # "os" or "es"
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        name = "OpenSearch" if self.product == "os" else "Elasticsearch"
        return f"{name} {self.major}.{self.minor}.{self.patch}"

    @property
    def lucene(self) -> int | None:
        return LUCENE.get((self.product, self.major))


def decode_created(value: int) -> Created:
    product = "es"
    if value & OPENSEARCH_MASK:
        value ^= OPENSEARCH_MASK
        product = "os"
    return Created(product, value // 1_000_000, (value // 10_000) % 100, (value // 100) % 100)


def readable_by(created: Created, target_major: int) -> bool:
    lucene, wanted = created.lucene, LUCENE.get(("os", target_major))
    if lucene is None or wanted is None:
        return created.product == "os" and created.major >= target_major - 1
    return lucene >= wanted - 1


@dataclass(frozen=True)
class SettingRule:
    key: str  # exact key or a prefix ending in "."
    since: tuple[int, int]  # the first version that deprecated or removed it
    removed: bool  # removed (the node refuses it) or deprecated (a warning in the log)
    message: object
    fix: object
    cite: Cite = BREAKING
    value: str | None = None


SETTING_RULES: tuple[SettingRule, ...] = (
    SettingRule(
        "cluster.initial_master_nodes",
        (2, 0),
        False,
        _lazy(
            "cluster.initial_master_nodes is deprecated in 2.x (non-inclusive terms) and due to be removed in 3.0."
        ),
        _lazy("Use cluster.initial_cluster_manager_nodes."),
    ),
    SettingRule(
        "node.master",
        (2, 0),
        False,
        _lazy('node.master is deprecated in 2.x: "master" is now "cluster manager".'),
        _lazy("Use node.roles: [cluster_manager, …]."),
    ),
    SettingRule(
        "discovery.zen.minimum_master_nodes",
        (1, 0),
        False,
        _lazy(
            "discovery.zen.minimum_master_nodes has had no effect since OpenSearch 1.0: the cluster manager quorum is automatic."
        ),
        _lazy(
            "Remove it; set cluster.initial_cluster_manager_nodes only when bootstrapping a new cluster."
        ),
        UPGRADE,
    ),
    SettingRule(
        "thread_pool.test.max_queue_size",
        (3, 0),
        True,
        _lazy("thread_pool.test.max_queue_size was removed in 3.0."),
        _lazy("Remove the setting."),
    ),
    SettingRule(
        "thread_pool.test.min_queue_size",
        (3, 0),
        True,
        _lazy("thread_pool.test.min_queue_size was removed in 3.0."),
        _lazy("Remove the setting."),
    ),
    SettingRule(
        "index.store.hybrid.mmap.extensions",
        (3, 0),
        True,
        _lazy("index.store.hybrid.mmap.extensions was removed in 3.0."),
        _lazy("Remove the setting; hybridfs decides which files are memory-mapped."),
    ),
    SettingRule(
        "knn.plugin.enabled",
        (3, 0),
        True,
        _lazy("knn.plugin.enabled was removed from the k-NN plugin in 3.0."),
        _lazy("Remove the setting."),
    ),
    SettingRule(
        "index.knn.algo_param.",
        (3, 0),
        True,
        _lazy("index.knn.algo_param.* index settings were removed in 3.0."),
        _lazy("Give ef_construction and m in the method definition of the knn_vector mapping."),
    ),
    SettingRule(
        "index.knn.space_type",
        (3, 0),
        True,
        _lazy("index.knn.space_type was removed in 3.0."),
        _lazy("Give space_type in the knn_vector mapping."),
    ),
    SettingRule(
        "plugins.sql.delete.enabled",
        (3, 0),
        True,
        _lazy("plugins.sql.delete.enabled was removed in 3.0 with DELETE support in SQL."),
        _lazy("Remove the setting; delete with the Delete by query API."),
    ),
    SettingRule(
        "plugins.sql.pagination.api",
        (3, 0),
        True,
        _lazy("plugins.sql.pagination.api was removed in 3.0; pagination uses Point in Time."),
        _lazy("Remove the setting."),
    ),
    SettingRule(
        "opendistro.",
        (3, 0),
        True,
        _lazy("Legacy settings with the opendistro prefix were removed in 3.0."),
        _lazy("Use the plugins.* names of the same settings."),
    ),
    SettingRule(
        "opendistro_security.",
        (3, 0),
        True,
        _lazy("Settings with the opendistro prefix are legacy names, removed in 3.0."),
        _lazy("Rename them to plugins.security.*."),
    ),
    SettingRule(
        "transport.type",
        (3, 0),
        True,
        _lazy("The transport-nio plugin was removed in 3.0: nio-transport is no longer available."),
        _lazy("Remove transport.type (Netty is the default)."),
        value="nio-transport",
    ),
    SettingRule(
        "http.type",
        (3, 0),
        True,
        _lazy(
            "The transport-nio plugin was removed in 3.0: nio-http-transport is no longer available."
        ),
        _lazy("Remove http.type (Netty is the default)."),
        value="nio-http-transport",
    ),
)


@dataclass(frozen=True)
class Change:
    """A breaking change of one release: shown when the upgrade crosses it."""

    version: tuple[int, int]
    title: object
    what: object


BREAKING_CHANGES: tuple[Change, ...] = (
    Change(
        (2, 0),
        _lazy("Mapping types removed"),
        _lazy(
            "The type parameter was removed from every API endpoint: requests, templates and clients that send _doc or a custom type fail."
        ),
    ),
    Change(
        (2, 0),
        _lazy("Non-inclusive terms deprecated"),
        _lazy(
            '"master" is now "cluster manager" (settings, _cat/nodes columns, APIs); whitelist/blacklist are allow list/deny list.'
        ),
    ),
    Change(
        (2, 0),
        _lazy("Notifications plugins for Alerting"),
        _lazy(
            "Alerting's notification actions need the notifications and notifications-core plugins."
        ),
    ),
    Change(
        (2, 0),
        _lazy("JDK 8 dropped"),
        _lazy("OpenSearch 2.x and its Java high-level REST client no longer run on JDK 8."),
    ),
    Change(
        (2, 5),
        _lazy("Wildcard queries on text fields"),
        _lazy(
            "case_insensitive is now honoured: wildcard queries on text fields may return fewer hits than before."
        ),
    ),
    Change(
        (2, 19),
        _lazy("text_embedding processor and nested values"),
        _lazy(
            "Nested keys must be given directly (books.title:title_embedding); _ingest._value is no longer replaced."
        ),
    ),
    Change((3, 0), _lazy("JDK 21 required"), _lazy("The minimum supported JDK is 21.")),
    Change(
        (3, 0),
        _lazy("No system index access through the REST API"),
        _lazy("Reading or writing system indices over REST is no longer possible."),
    ),
    Change(
        (3, 0),
        _lazy("Document IDs over 512 bytes refused"),
        _lazy("The limit is now enforced by the Bulk API too."),
    ),
    Change(
        (3, 0),
        _lazy("JSON limits"),
        _lazy("JSON nesting is limited to 1,000 levels and property names to 50,000 units."),
    ),
    Change(
        (3, 0),
        _lazy("Nested query depth"),
        _lazy("index.query.max_nested_depth (default 20) limits nested queries."),
    ),
    Change(
        (3, 0),
        _lazy("SQL plugin"),
        _lazy("The DSL response format, DELETE statements and opendistro endpoints were removed."),
    ),
)

# Plugins shipped with the OpenSearch distribution or installable from its release
# (bin/opensearch-plugin install <name>); anything else is a custom plugin.
OFFICIAL_PLUGINS = frozenset(
    {
        *("opensearch-alerting", "opensearch-anomaly-detection", "opensearch-asynchronous-search"),
        *("opensearch-cross-cluster-replication", "opensearch-custom-codecs"),
        *("opensearch-flow-framework", "opensearch-geospatial", "opensearch-index-management"),
        *(
            "opensearch-job-scheduler",
            "opensearch-knn",
            "opensearch-ml",
            "opensearch-neural-search",
        ),
        *("opensearch-notifications", "opensearch-notifications-core", "opensearch-observability"),
        *("opensearch-performance-analyzer", "opensearch-reports-scheduler", "opensearch-security"),
        *("opensearch-security-analytics", "opensearch-skills", "opensearch-sql"),
        *("opensearch-system-templates", "opensearch-query-insights", "opensearch-ltr"),
        *("opensearch-search-relevance", "opensearch-learning-to-rank-base"),
        *("analysis-icu", "analysis-kuromoji", "analysis-nori", "analysis-phonetic"),
        *("analysis-smartcn", "analysis-stempel", "analysis-ukrainian", "discovery-azure-classic"),
        *("discovery-ec2", "discovery-gce", "ingest-attachment", "mapper-annotated-text"),
        *("mapper-murmur3", "mapper-size", "repository-azure", "repository-gcs", "repository-hdfs"),
        *("repository-s3", "store-smb", "transport-nio", "telemetry-otel", "crypto-kms"),
        *("ingest-geoip", "ingest-user-agent", "ingestion-kafka", "ingestion-kinesis"),
    }
)


@dataclass(frozen=True)
class PluginRule:
    name: str
    since: tuple[int, int]
    message: object
    fix: object


PLUGIN_RULES: tuple[PluginRule, ...] = (
    PluginRule(
        "transport-nio",
        (3, 0),
        _lazy("The transport-nio plugin was removed in 3.0."),
        _lazy("Uninstall it before the upgrade; Netty is the default transport."),
    ),
    PluginRule(
        "opensearch-performance-analyzer",
        (3, 0),
        _lazy("The performance-analyzer-rca agent was removed in 3.0."),
        _lazy("Move performance monitoring to the Telemetry plugin."),
    ),
    PluginRule(
        "opensearch-alerting",
        (2, 0),
        _lazy(
            "Alerting's notification actions need the notifications and notifications-core plugins from 2.0."
        ),
        _lazy(
            "Install opensearch-notifications and opensearch-notifications-core with the 2.x build."
        ),
    ),
)
