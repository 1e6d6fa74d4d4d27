"""RabbitMQ upgrade rules, from the RabbitMQ upgrade guides, feature flag reference and
release notes (3.11.0, 3.12.0, 3.13.0, 4.0.1): the supported series hops, the feature flags
each version requires, the Erlang each series needs, the rabbitmq.conf and advanced.config
settings a version refuses, classic queue mirroring (removed in 4.0) and Khepri."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _lazy

from apps.scenarios.migration.steps import Cite
from apps.scenarios.migration.versions import Hop

DOCS = "https://www.rabbitmq.com/docs"
UPGRADE = Cite(
    "Upgrading RabbitMQ", f"{DOCS}/upgrade", "RabbitMQ Version Upgradability", "docs/upgrade.md"
)
UPGRADE_313 = Cite(
    "Upgrading RabbitMQ (3.13)",
    f"{DOCS}/3.13/upgrade",
    "Release Series Upgradeability",
    "versioned_docs/version-3.13/upgrade.md",
)
ROLLING = Cite(
    "Rolling Upgrade", f"{DOCS}/rolling-upgrade", "Perform the Upgrade", "docs/rolling-upgrade.md"
)
_FF = "docs/feature-flags/index.md"
FEATURE_FLAGS = Cite("Feature Flags", f"{DOCS}/feature-flags", "How to Enable Feature Flags", _FF)
FLAG_LIST = Cite("Feature Flags", f"{DOCS}/feature-flags", "List of Feature Flags", _FF)
MAINTENANCE = Cite("Upgrading RabbitMQ", f"{DOCS}/upgrade", "Maintenance Mode", "docs/upgrade.md")
QUORUM = Cite("Upgrading RabbitMQ", f"{DOCS}/upgrade", "When to Restart Nodes", "docs/upgrade.md")
BACKUP = Cite("Upgrading RabbitMQ", f"{DOCS}/upgrade", "Backup", "docs/upgrade.md")
MCQ = Cite(
    "Migrate your RabbitMQ Mirrored Classic Queues to Quorum Queues",
    f"{DOCS}/3.13/migrate-mcq-to-qq",
)
BLUE_GREEN = Cite(
    "Blue-Green Deployment", f"{DOCS}/blue-green-upgrade", path="docs/blue-green-upgrade.md"
)
ERLANG = Cite(
    "Erlang Version Requirements",
    f"{DOCS}/3.13/which-erlang",
    path="versioned_docs/version-3.13/which-erlang.md",
)
HEALTH = Cite(
    "Rolling Upgrade", f"{DOCS}/rolling-upgrade", "Assess Cluster Health", "docs/rolling-upgrade.md"
)
REBALANCE = Cite(
    "Upgrading RabbitMQ", f"{DOCS}/upgrade", "Rebalancing Queue Leaders", "docs/upgrade.md"
)
MANAGEMENT_UI = Cite(
    "Upgrading RabbitMQ", f"{DOCS}/upgrade", "Management Plugin Upgrades", "docs/upgrade.md"
)


def notes(version: str) -> Cite:
    return Cite(
        f"RabbitMQ {version} release notes",
        f"https://github.com/rabbitmq/rabbitmq-server/releases/tag/v{version}",
        path=f"release-notes/{version}.md",
    )


# The release notes of the first release of each series the corpus keeps (4.0.0 was not
# published as a release: 4.0.1 is the first).
SERIES_NOTES = {
    (3, 9): "3.9.0",
    (3, 10): "3.10.0",
    (3, 11): "3.11.0",
    (3, 12): "3.12.0",
    (3, 13): "3.13.0",
    (4, 0): "4.0.1",
}

# docs/upgrade.md "Release Series Upgradeability" and version-3.13/upgrade.md (rolling).
HOPS: tuple[Hop, ...] = (
    Hop((3, 7), (3, 8), 18),
    Hop((3, 8), (3, 9)),
    Hop((3, 9), (3, 10)),
    Hop((3, 10), (3, 11)),
    Hop((3, 11), (3, 12), 18),
    Hop((3, 12), (3, 13)),
    Hop((3, 13), (4, 0)),
    Hop((3, 13), (4, 1)),
    Hop((3, 13), (4, 2)),
    Hop((4, 0), (4, 1)),
    Hop((4, 0), (4, 2)),
    Hop((4, 1), (4, 2)),
    Hop((4, 2), (4, 3)),
)

# The oldest Erlang/OTP each series starts on (release notes: "requires Erlang …").
ERLANG_MIN: dict[tuple[int, int], tuple[int, int]] = {
    (3, 9): (23, 2),
    (3, 10): (23, 2),
    (3, 11): (25, 0),
    (3, 12): (25, 0),
    (3, 13): (26, 0),
    (4, 0): (26, 2),
    (4, 1): (26, 2),
    (4, 2): (26, 2),
    (4, 3): (26, 2),
}


@dataclass(frozen=True)
class Flag:
    name: str
    stable: tuple[int, int, int]  # the release that introduced it
    required: tuple[int, int] | None  # the series that refuses to start without it
    provided_by: str = "rabbit"


def _v(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split(".")]
    return (parts[0], parts[1], parts[2] if len(parts) > 2 else 0)


def _s(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return (int(major), int(minor))


# docs/feature-flags "List of Feature Flags": (name, stable in, required before).
FLAGS: tuple[Flag, ...] = (
    Flag("rabbitmq_4.0.0", _v("4.0"), None),
    Flag("khepri_db", _v("4.0"), None),  # opt-in, never enabled by `enable_feature_flag all`
    Flag("rabbit_exchange_type_local_random", _v("4.0"), None),
    Flag("quorum_queue_non_voters", _v("3.13.1"), None),
    Flag("message_containers", _v("3.13.0"), None),
    Flag("detailed_queues_endpoint", _v("3.13.0"), None),
    Flag("stream_filtering", _v("3.13.0"), _s("4.0")),
    Flag("stream_update_config_command", _v("3.13.0"), _s("4.0")),
    Flag("restart_streams", _v("3.12.0"), _s("4.0")),
    Flag("stream_sac_coordinator_unblock_group", _v("3.12.0"), None),
    Flag("direct_exchange_routing_v2", _v("3.11.0"), _s("3.12")),
    Flag("feature_flags_v2", _v("3.11.0"), _s("3.12")),
    Flag("listener_records_in_ets", _v("3.11.0"), _s("3.12")),
    Flag("stream_single_active_consumer", _v("3.11.0"), _s("3.12")),
    Flag("tracking_records_in_ets", _v("3.11.0"), _s("3.12")),
    Flag("classic_queue_type_delivery_support", _v("3.10.9"), _s("3.12")),
    Flag("stream_queue", _v("3.9.0"), _s("3.12")),
    Flag("user_limits", _v("3.8.10"), _s("3.11")),
    Flag("maintenance_mode_status", _v("3.8.8"), _s("3.11")),
    Flag("implicit_default_bindings", _v("3.8.0"), _s("3.11")),
    Flag("quorum_queue", _v("3.8.0"), _s("3.11")),
    Flag("virtual_host_metadata", _v("3.8.0"), _s("3.11")),
    Flag("drop_unroutable_metric", _v("3.8.10"), _s("3.12"), "rabbitmq_management_agent"),
    Flag("empty_basic_get_metric", _v("3.8.10"), _s("3.12"), "rabbitmq_management_agent"),
    Flag("mqtt_v5", _v("3.13.0"), _s("4.0"), "rabbitmq_mqtt"),
    Flag("delete_ra_cluster_mqtt_node", _v("3.12.0"), _s("4.0"), "rabbitmq_mqtt"),
    Flag("rabbit_mqtt_qos0_queue", _v("3.12.0"), _s("4.0"), "rabbitmq_mqtt"),
)
FLAGS_BY_NAME = {f.name: f for f in FLAGS}
OPT_IN = {"khepri_db"}


def required_for(target: tuple[int, int]) -> list[Flag]:
    """Flags a node of the target series refuses to start without."""
    return [f for f in FLAGS if f.required is not None and f.required <= target]


@dataclass(frozen=True)
class ConfRule:
    """A rabbitmq.conf key (or advanced.config path) that a target series no longer reads."""

    key: str  # exact key, or a prefix ending in "."; for advanced.config "rabbit.key"
    since: tuple[int, int]
    message: object  # lazy text
    fix: object
    cite: Cite
    fatal: bool = True  # the node refuses to start with it
    value: str | None = None  # only this value is refused


CONF_RULES: tuple[ConfRule, ...] = (
    ConfRule(
        "classic_queue.default_version",
        (4, 0),
        _lazy(
            "CQv1 was removed in 4.0: a node with classic_queue.default_version = 1 fails to start."
        ),
        _lazy("Remove the line (or set it to 2); the node then migrates CQv1 queues to CQv2."),
        notes("4.0.1"),
        value="1",
    ),
    ConfRule(
        "cluster_formation.randomized_startup_delay_range.",
        (4, 0),
        _lazy(
            "cluster_formation.randomized_startup_delay_range.* was removed: RabbitMQ 4.0 fails to boot with it."
        ),
        _lazy("Remove the setting; peer discovery uses a lock instead since 3.9."),
        notes("4.0.1"),
    ),
    ConfRule(
        "rabbitmq_amqp1_0.default_vhost",
        (4, 0),
        _lazy("rabbitmq_amqp1_0.default_vhost is unsupported in 4.0."),
        _lazy("Remove it; default_vhost now decides the vhost of AMQP 1.0 clients."),
        notes("4.0.1"),
    ),
    ConfRule(
        "mqtt.default_user",
        (4, 0),
        _lazy("mqtt.default_user is unsupported in 4.0."),
        _lazy("Use anonymous_login_user, or better disallow anonymous logins."),
        notes("4.0.1"),
    ),
    ConfRule(
        "mqtt.default_password",
        (4, 0),
        _lazy("mqtt.default_password is unsupported in 4.0."),
        _lazy("Use anonymous_login_pass, or better disallow anonymous logins."),
        notes("4.0.1"),
    ),
    ConfRule(
        "amqp1_0.default_user",
        (4, 0),
        _lazy("amqp1_0.default_user is unsupported in 4.0."),
        _lazy("Use anonymous_login_user, or better disallow anonymous logins."),
        notes("4.0.1"),
    ),
    ConfRule(
        "rabbit.classic_queue_default_version",
        (4, 0),
        _lazy("CQv1 was removed in 4.0: classic_queue_default_version 1 stops the node."),
        _lazy("Remove the setting (or set it to 2)."),
        notes("4.0.1"),
        value="1",
    ),
    ConfRule(
        "rabbit.cluster_formation.randomized_startup_delay_range",
        (4, 0),
        _lazy("randomized_startup_delay_range was removed: RabbitMQ 4.0 fails to boot with it."),
        _lazy("Remove the setting."),
        notes("4.0.1"),
    ),
)

MIRROR_KEYS = (
    "ha-mode",
    "ha-params",
    "ha-sync-mode",
    "ha-promote-on-shutdown",
    "ha-promote-on-failure",
)
