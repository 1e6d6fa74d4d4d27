"""Migration checklist, live pre-checks: a real RabbitMQ node started by the test on its own
ports (never the machine's own RabbitMQ) read through its management API, an admin's
RabbitMQ targets in the console, and OpenSearch pre-checks from recorded responses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import translation

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import InputError
from apps.scenarios.migration import live, live_opensearch
from apps.scenarios.migration.models import RabbitTarget
from apps.scenarios.models import Run
from apps.scenarios.tests.opensearch_recorded import PASSWORD as OS_PASSWORD
from apps.scenarios.tests.opensearch_recorded import USER as OS_USER
from apps.scenarios.tests.opensearch_recorded import serving
from apps.scenarios.tests.rabbitmq_servers import MACHINE_PORTS, PASSWORD, USER, RabbitNode, running

# The flags 3.11 requires, all but user_limits: a node as left by an upgrade nobody finished.
FLAGS = [
    "quorum_queue",
    "implicit_default_bindings",
    "virtual_host_metadata",
    "maintenance_mode_status",
]
PATH = {"through": "3.11.28, 3.12.14, 3.13.7", "to_version": "4.0.5"}


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture(scope="module")
def rabbit() -> Iterator[RabbitNode]:
    with running(FLAGS) as node:
        # a classic queue under a mirroring policy, a quorum queue
        assert node.api(
            "PUT",
            "policies/%2F/ha-orders",
            {"pattern": "^orders\\.", "definition": {"ha-mode": "all"}, "apply-to": "queues"},
        ).status_code in (201, 204)
        assert node.api("PUT", "queues/%2F/orders.created", {"durable": True}).status_code in (
            201,
            204,
        )
        assert node.api(
            "PUT", "queues/%2F/payments", {"durable": True, "arguments": {"x-queue-type": "quorum"}}
        ).status_code in (201, 204)
        _wait(
            lambda: "ha-orders" in node.api("GET", "queues/%2F/orders.created").text
        )  # stats: every 5 s
        yield node


def _wait(ready: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, "the node did not get there in time"
        time.sleep(0.5)


def _plan(snapshot: dict[str, Any], **extra: str) -> Any:
    params = {"product": "rabbitmq", "from_version": "3.10.8", **PATH, "live": snapshot, **extra}
    return registry.get("migration").analyze("", params)


def test_a_disabled_feature_flag_on_a_real_rabbitmq_node_blocks_the_plan(
    rabbit: RabbitNode,
) -> None:
    assert not MACHINE_PORTS & {rabbit.port, rabbit.dist_port, rabbit.api_port}
    snapshot = live.read(rabbit.api_url, USER, PASSWORD)
    assert snapshot["version"] == "3.10.8" and snapshot["node"] == rabbit.name
    analysis = _plan(snapshot)
    flags = next(f for f in analysis.findings if f.rule == "rabbitmq.feature-flags-disabled")
    assert flags.severity == "error"
    assert "user_limits" in flags.data["required_by_target"]  # 3.11 refuses to start without it
    assert "user_limits" in flags.why and "3.11" in flags.why
    assert analysis.failed and analysis.facts["blocked"]
    steps = {s["id"]: s for s in analysis.facts["steps"]}
    assert "user_limits" in steps["feature-flags"]["blocked"]
    assert steps["nodes"]["blocked"]  # the first hop's node upgrade waits for the flags
    assert not steps["nodes-2"]["blocked"]  # later hops are judged when they come

    # the admin enables the flags, as the step's action says; the plan is no longer blocked
    for name in flags.data["disabled"]:
        assert rabbit.api("PUT", f"feature-flags/{name}/enable", {}).status_code == 204
    after = _plan(live.read(rabbit.api_url, USER, PASSWORD))
    assert not any(f.rule == "rabbitmq.feature-flags-disabled" for f in after.findings)
    assert not {s["id"]: s for s in after.facts["steps"]}["feature-flags"]["blocked"]


def test_queue_types_and_a_mirroring_policy_are_read_from_the_node(rabbit: RabbitNode) -> None:
    snapshot = live.read(rabbit.api_url, USER, PASSWORD)
    assert snapshot["queue_types"] == {"classic": 1, "quorum": 1}
    assert snapshot["mirrored_queues"] == 1
    assert snapshot["alarms"] == []
    analysis = _plan(snapshot)
    mirroring = next(f for f in analysis.findings if f.rule == "rabbitmq.classic-mirroring")
    assert mirroring.data["policies"] == ["//ha-orders"] and mirroring.data["mirrored_queues"] == 1
    assert analysis.facts["live"]["queue_types"] == {"classic": 1, "quorum": 1}
    assert analysis.facts["live"]["erlang"]


def test_the_wrong_version_and_a_monitoring_user_are_said(rabbit: RabbitNode) -> None:
    assert rabbit.api(
        "PUT", "users/watcher", {"password": "watch-pass-1", "tags": "monitoring"}
    ).status_code in (201, 204)
    assert rabbit.api(
        "PUT", "permissions/%2F/watcher", {"configure": "", "write": "", "read": ".*"}
    ).status_code in (201, 204)
    _wait(
        lambda: rabbit.api("GET", "overview", auth=("watcher", "watch-pass-1")).status_code == 200
    )
    snapshot = live.read(rabbit.api_url, "watcher", "watch-pass-1")
    assert "feature_flags" in snapshot["unread"]
    analysis = registry.get("migration").analyze(
        "",
        {
            "product": "rabbitmq",
            "from_version": "3.9.29",
            "to_version": "3.10.25",
            "live": snapshot,
        },
    )
    rules = {f.rule: f for f in analysis.findings}
    assert "administrator" in rules["rabbitmq.live-unread"].why
    assert "3.10.8" in rules["rabbitmq.live-version"].message
    with pytest.raises(live.Unreachable, match="401"):
        live.read(rabbit.api_url, USER, "wrong-password")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://admin:secret@mq:15672",
        "http://mq:15672/?redirect=evil",
        "http://mq:15672/#x",
        "http://mq:15672/a b",
        "http://mq:15672/../../api",
        "gopher://mq:70",
        "http://:15672",
    ],
)
def test_hostile_management_urls_are_refused(url: str) -> None:
    with pytest.raises(InputError):
        live.check_url(url)


def test_management_url_is_normalised() -> None:
    assert live.check_url("https://mq-1.example:15672/api/") == "https://mq-1.example:15672"
    assert live.check_url("http://[::1]:15672/mq") == "http://[::1]:15672/mq"


@pytest.mark.django_db
def test_an_admin_configures_a_target_and_a_member_plans_from_it(
    rabbit: RabbitNode, admin_client: Client, member_client: Client, outsider_client: Client
) -> None:
    sre = Group.objects.get_or_create(name="sre")[0]
    response = admin_client.post(
        "/admin-console/scenarios/migration/targets/new/",
        {
            "name": "orders-mq",
            "url": rabbit.api_url + "/api",
            "username": USER,
            "password": PASSWORD,
            "groups": [sre.pk],
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    target = RabbitTarget.objects.get(name="orders-mq")
    assert target.url == rabbit.api_url and PASSWORD not in target.password_encrypted
    response = admin_client.post(
        f"/admin-console/scenarios/migration/targets/{target.pk}/test/", follow=True
    )
    assert "RabbitMQ 3.10.8" in response.content.decode()
    # the outsider is not offered the target; the member is, and the run holds what was read
    assert "orders-mq" not in outsider_client.get("/scenarios/migration/").content.decode()
    assert "orders-mq" in member_client.get("/scenarios/migration/").content.decode()
    response = member_client.post(
        "/scenarios/migration/",
        {
            "mode": "paste",
            "text": "",
            "product": "rabbitmq",
            "from_version": "3.10.8",
            **PATH,
            "target": target.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    run = Run.objects.get(scenario="migration")
    assert run.params["target"] == "orders-mq" and run.params["live"]["version"] == "3.10.8"
    assert any(f["rule"] == "rabbitmq.classic-mirroring" for f in run.findings)
    page = member_client.get(response["Location"]).content.decode()
    assert "//ha-orders" in page  # the policy, as the node named it


@pytest.mark.django_db
def test_console_targets_are_admin_only(member_client: Client) -> None:
    assert member_client.get("/admin-console/scenarios/migration/targets/").status_code in (
        302,
        403,
    )
    assert member_client.post(
        "/admin-console/scenarios/migration/targets/new/", {"name": "x"}
    ).status_code in (302, 403)
    assert not RabbitTarget.objects.exists()


@pytest.fixture
def recorded_opensearch(settings: Any) -> Iterator[Any]:
    with serving() as server:
        settings.OPENSEARCH_URL = server.url
        settings.OPENSEARCH_USERNAME = OS_USER
        settings.OPENSEARCH_PASSWORD = OS_PASSWORD
        settings.OPENSEARCH_CA_FILE = ""
        server.answer("GET", "/_cat/nodes", 200, "cat_nodes_1.3.json")
        server.answer("GET", "/_nodes/settings", 200, "nodes_settings_1.3.json")
        server.answer(
            "GET", "/_all/_settings/index.version.created", 200, "index_version_created_1.3.json"
        )
        yield server


def test_opensearch_pre_checks_from_recorded_responses_block_a_yellow_cluster(
    recorded_opensearch: Any,
) -> None:
    recorded_opensearch.answer("GET", "/_cluster/health", 200, "cluster_health_1.3_yellow.json")
    snapshot = live_opensearch.read()
    assert [s.method for s in recorded_opensearch.seen] == ["GET"] * 4
    assert recorded_opensearch.seen[-1].query == "flat_settings=true"
    analysis = registry.get("migration").analyze(
        "",
        {
            "product": "opensearch",
            "from_version": "1.3.7",
            "to_version": "2.19.1",
            "live": snapshot,
        },
    )
    rules = [f.rule for f in analysis.findings]
    health = next(f for f in analysis.findings if f.rule == "opensearch.health")
    assert "yellow" in health.message and "4 unassigned" in health.message
    assert {s["id"]: s for s in analysis.facts["steps"]}["health"][
        "blocked"
    ] == "Cluster health is yellow."
    assert analysis.facts["live"]["manager"] == "os-node-02"
    # deprecated settings in the nodes' own settings, named by node
    deprecated = [f for f in analysis.findings if f.rule == "opensearch.setting-deprecated"]
    wheres = {(f.where, f.evidence.split(":")[0]) for f in deprecated}
    assert ("node os-node-01 (_nodes/settings)", "discovery.zen.minimum_master_nodes") in wheres
    assert ("node os-node-03 (_nodes/settings)", "node.master") in wheres
    assert "opensearch.live-versions" not in rules
    # the legacy index found without pasting the index settings
    reindex = next(f for f in analysis.findings if f.rule == "opensearch.reindex")
    assert reindex.data["indices"] == ["logs-2019.12.31"]
    assert {s["id"]: s for s in analysis.facts["steps"]}["reindex"]["details"] == [
        "logs-2019.12.31"
    ]


def test_opensearch_pre_checks_from_recorded_responses_on_a_green_cluster(
    recorded_opensearch: Any,
) -> None:
    recorded_opensearch.answer("GET", "/_cluster/health", 200, "cluster_health_1.3_green.json")
    analysis = registry.get("migration").analyze(
        "",
        {
            "product": "opensearch",
            "from_version": "1.3.6",
            "to_version": "2.9.0",
            "live": live_opensearch.read(),
        },
    )
    assert not any(f.rule == "opensearch.health" for f in analysis.findings)
    versions = next(f for f in analysis.findings if f.rule == "opensearch.live-versions")
    assert "os-node-01 1.3.7" in versions.message


def test_opensearch_pre_checks_with_a_refused_password_from_recorded_responses(
    recorded_opensearch: Any, settings: Any
) -> None:
    settings.OPENSEARCH_PASSWORD = "wrong"
    with pytest.raises(InputError, match="401"):
        live_opensearch.read()


def test_a_memory_alarm_on_the_node_blocks_the_health_step(rabbit: RabbitNode) -> None:
    from apps.scenarios.tests.rabbitmq_servers import ctl

    ctl(rabbit, "set_vm_memory_high_watermark", "0.0001")
    try:
        _wait(lambda: any(n.get("mem_alarm") for n in rabbit.api("GET", "nodes").json()))
        snapshot = live.read(rabbit.api_url, USER, PASSWORD)
        assert snapshot["alarms"] == [f"memory@{rabbit.name}"]
        analysis = _plan(snapshot)
        alarm = next(f for f in analysis.findings if f.rule == "rabbitmq.alarms")
        assert alarm.severity == "error" and "memory@" in alarm.evidence
        assert (
            "Alarms in effect" in {s["id"]: s for s in analysis.facts["steps"]}["health"]["blocked"]
        )
    finally:
        ctl(rabbit, "set_vm_memory_high_watermark", "0.4")
