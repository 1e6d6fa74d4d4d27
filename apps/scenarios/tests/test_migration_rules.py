"""Migration checklist, the deterministic half: upgrade paths from the vendors' tables, the
config files read for what the target refuses, and the checklist steps (pre-check, action,
verification, rollback, citation), on the command line as teams run it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import translation

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import InputError
from apps.scenarios.migration import erlang_terms, opensearch, versions

DATA = Path(__file__).parent / "data" / "migration"


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """The tests read the messages in English; one test reads them in Russian."""
    with translation.override("en"):
        yield


def _manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(settings.BASE_DIR / "manage.py"),
            "scenario",
            "analyze",
            "migration",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _analyze(text: str = "", **params: Any) -> Any:
    return registry.get("migration").analyze(text, params)


def _rules(analysis: Any) -> list[str]:
    return [f.rule for f in analysis.findings]


def test_rabbitmq_3_11_to_4_0_exits_2_naming_the_missing_versions() -> None:
    result = _manage("--product", "rabbitmq", "--from", "3.11.28", "--to", "4.0.5", "--json")
    assert result.returncode == 2
    # in the portal's language (Russian by default), naming both releases to go through
    assert "RabbitMQ 3.11.28 → 4.0.5" in result.stderr
    assert "3.12" in result.stderr and "3.13" in result.stderr
    assert result.stdout == ""
    with translation.override("en"), pytest.raises(InputError) as exc:
        _analyze(product="rabbitmq", from_version="3.11.28", to_version="4.0.5")
    assert exc.value.message == (
        "RabbitMQ 3.11.28 → 4.0.5 has no direct path; upgrade through 3.12, then 3.13 first"
    )


def test_rabbitmq_through_the_intermediate_versions_prints_every_step_with_its_four_parts() -> None:
    result = _manage(
        "--product",
        "rabbitmq",
        "--from",
        "3.11.28",
        "--through",
        "3.12.14",
        "--through",
        "3.13.7",
        "--to",
        "4.0.5",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["path"] == "3.11.28 → 3.12.14 → 3.13.7 → 4.0.5"
    for step in out["steps"]:
        assert step["precheck"]["command"] and step["precheck"]["expect"]
        assert step["action"] and step["verify"] and step["rollback"]
        assert step["cite"]["url"].startswith("https://")
    flags = [s for s in out["steps"] if s["id"].startswith("feature-flags")]
    # all stable feature flags enabled before each of the three hops
    assert [s["hop"] for s in flags] == ["3.11.28 → 3.12.14", "3.12.14 → 3.13.7", "3.13.7 → 4.0.5"]
    assert all(s["action"] == "rabbitmqctl enable_feature_flag all" for s in flags)
    assert "feature_flags_v2" in flags[0]["details"][0]  # required by 3.12
    ids = [s["id"] for s in out["steps"]]
    assert len(ids) == len(set(ids))
    assert "mirrored-queues" in ids and "khepri" in ids  # crossing 4.0


def test_a_patch_too_old_for_the_hop_names_the_patch_release() -> None:
    with pytest.raises(InputError) as exc:
        _analyze(product="rabbitmq", from_version="3.11.5", to_version="3.12.14")
    assert "upgrade through 3.11.18 first" in exc.value.message
    assert exc.value.field == "to_version"


def test_rabbitmq_3_12_straight_to_4_0_is_refused() -> None:
    with pytest.raises(InputError) as exc:
        _analyze(product="rabbitmq", from_version="3.12.14", to_version="4.0.5")
    assert exc.value.message.endswith("upgrade through 3.13 first")


def test_opensearch_1_3_to_3_has_no_direct_path() -> None:
    result = _manage("--product", "opensearch", "--from", "1.3", "--to", "3.x")
    assert result.returncode == 2
    assert "OpenSearch 1.3 → 3.x" in result.stderr and "2.19" in result.stderr
    with translation.override("en"), pytest.raises(InputError) as exc:
        _analyze(product="opensearch", from_version="1.3", to_version="3.x")
    assert (
        exc.value.message == "OpenSearch 1.3 → 3.x has no direct path; upgrade through 2.19 first"
    )
    with pytest.raises(InputError, match="upgrade through 2.19 first"):
        _analyze(product="opensearch", from_version="2.11.1", to_version="3.0.0")


def test_downgrades_and_unknown_input_are_refused_by_field() -> None:
    with pytest.raises(InputError) as exc:
        _analyze(product="rabbitmq", from_version="4.0.5", to_version="3.13.7")
    assert "downgrades are not supported" in exc.value.message
    with pytest.raises(InputError) as exc:
        _analyze(product="kafka", from_version="3.0", to_version="3.1")
    assert exc.value.field == "product" and "rabbitmq, opensearch" in exc.value.message
    with pytest.raises(InputError) as exc:
        _analyze(product="opensearch", from_version="1.3; rm -rf /", to_version="2.9")
    assert exc.value.field == "from_version"


def test_seed_opensearch_1_3_to_2_9_custom_plugins_and_legacy_indices() -> None:
    """ "We run OpenSearch 1.3, what must we consider for 2.9? We have custom plugins and many
    legacy indices.\""""
    analysis = _analyze(
        (DATA / "opensearch-1.3.yml").read_text(),
        product="opensearch",
        from_version="1.3.7",
        to_version="2.9.0",
        plugins=(DATA / "cat_plugins-1.3.txt").read_text(),
        index_settings=(DATA / "index_version_created.json").read_text(),
    )
    by_rule: dict[str, list[Any]] = {}
    for f in analysis.findings:
        by_rule.setdefault(f.rule, []).append(f)
    # plugin compatibility: the custom plugin, and alerting's new notifications plugins
    custom = by_rule["opensearch.plugin-custom"]
    assert [f.evidence for f in custom] == ["acme-ldap-realm 1.3.7"]
    assert "opensearch-alerting" in by_rule["opensearch.plugin-change"][0].message
    # reindex: indices written by Elasticsearch 6.x, not those by 7.10 or OpenSearch 1.3
    reindex = by_rule["opensearch.reindex"]
    names = sorted(n for f in reindex for n in f.data["indices"])
    assert names == ["audit-2019", "logs-2020.01.01"]
    assert all(f.severity == "error" for f in reindex)
    # breaking API changes crossed, 2.0 and 2.5, not 3.0's
    titles = " ".join(f.message for f in by_rule["opensearch.breaking-change"])
    assert "Mapping types removed" in titles and "Wildcard" in titles and "JDK 21" not in titles
    # deprecated settings found in the given config, with their lines
    deprecated = {
        f.evidence.split(":")[0]: f.line for f in by_rule["opensearch.setting-deprecated"]
    }
    assert deprecated["node.master"] == 3
    assert deprecated["cluster.initial_master_nodes"] == 7
    # the checklist: plugins, reindex, snapshot before the rolling upgrade, health green
    steps = analysis.facts["steps"]
    ids = [s["id"] for s in steps]
    for wanted in (
        "plugins",
        "settings",
        "reindex",
        "backup-config",
        "snapshot",
        "health",
        "allocation",
        "nodes",
        "allocation-back",
    ):
        assert wanted in ids, wanted
    assert ids.index("snapshot") < ids.index("nodes")
    reindex_step = steps[ids.index("reindex")]
    assert (
        reindex_step["precheck"]["command"]
        == "GET _all/_settings/index.version.created?flat_settings=true"
    )
    assert reindex_step["details"] == ["audit-2019", "logs-2020.01.01"]
    assert any(
        "acme-ldap-realm" in d and "custom" in d for d in steps[ids.index("plugins")]["details"]
    )
    assert steps[ids.index("health")]["precheck"]["expect"].startswith('"status": "green"')
    nodes = steps[ids.index("nodes")]
    assert "cluster-manager-eligible nodes last" in nodes["title"]
    assert "snapshot" in nodes["rollback"]
    assert analysis.facts["indices"] == {"total": 4, "to_reindex": 2}


def test_opensearch_2_19_to_3_0_reindexes_1_x_indices_and_refuses_removed_settings() -> None:
    yml = "cluster.name: c\nknn.plugin.enabled: true\ntransport.type: nio-transport\nthread_pool:\n  test:\n    max_queue_size: 10\n"
    created = json.dumps(
        {
            "old": {
                "settings": {"index.version.created": str(1030799 ^ opensearch.OPENSEARCH_MASK)}
            },
            "new": {
                "settings": {"index.version.created": str(2190099 ^ opensearch.OPENSEARCH_MASK)}
            },
        }
    )
    analysis = _analyze(
        yml,
        product="opensearch",
        from_version="2.19.1",
        to_version="3.0.0",
        plugins="transport-nio\nopensearch-knn\n",
        index_settings=created,
    )
    removed = {
        f.evidence.split(":")[0]: f.line
        for f in analysis.findings
        if f.rule == "opensearch.setting-removed"
    }
    assert removed == {
        "knn.plugin.enabled": 2,
        "transport.type": 3,
        "thread_pool.test.max_queue_size": 6,
    }
    reindex = [f for f in analysis.findings if f.rule == "opensearch.reindex"]
    assert reindex[0].data["indices"] == ["old"] and "OpenSearch 1.3.7" in reindex[0].message
    assert any(
        f.rule == "opensearch.plugin-change" and "transport-nio" in f.message
        for f in analysis.findings
    )
    assert analysis.failed


def test_index_version_created_decodes_both_products() -> None:
    assert str(opensearch.decode_created(7100299)) == "Elasticsearch 7.10.2"
    assert (
        str(opensearch.decode_created(2090099 ^ opensearch.OPENSEARCH_MASK)) == "OpenSearch 2.9.0"
    )
    es7 = opensearch.decode_created(7100299)
    assert opensearch.readable_by(es7, 2) and not opensearch.readable_by(es7, 3)


def test_rabbitmq_conf_and_advanced_config_settings_4_0_refuses_with_lines() -> None:
    analysis = _analyze(
        (DATA / "rabbitmq.conf").read_text(),
        product="rabbitmq",
        from_version="3.13.7",
        to_version="4.0.5",
        advanced_config=(DATA / "advanced.config").read_text(),
    )
    removed = [
        (f.where, f.line, f.evidence)
        for f in analysis.findings
        if f.rule == "rabbitmq.config-removed"
    ]
    assert (
        "rabbitmq.conf",
        5,
        "cluster_formation.randomized_startup_delay_range.min = 0",
    ) in removed
    assert ("rabbitmq.conf", 7, "classic_queue.default_version = 1") in removed
    assert ("rabbitmq.conf", 8, "mqtt.default_user = iot") in removed
    assert ("advanced.config", 5, "rabbit.classic_queue_default_version = 1") in removed
    assert not any(e.startswith("vm_memory") for _w, _l, e in removed)
    assert any(f.rule == "rabbitmq.forced-feature-flags" and f.line == 4 for f in analysis.findings)
    config_step = next(s for s in analysis.facts["steps"] if s["id"] == "config")
    assert "rabbitmq.conf:7: classic_queue.default_version = 1" in config_step["details"]
    # the same files are fine for 3.12 → 3.13
    calm = _analyze(
        (DATA / "rabbitmq.conf").read_text(),
        product="rabbitmq",
        from_version="3.12.14",
        to_version="3.13.7",
    )
    assert not [f for f in calm.findings if f.rule == "rabbitmq.config-removed"]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[{rabbit, [{x, os:cmd("rm -rf /")}]}].', 1, "':'"),
        ("[{rabbit, [{x, fun() -> ok end}]}].", 1, "'('"),
        ("[{rabbit, [{x, X}]}].", 1, "variable"),
        ("[{rabbit, [\n{x, 1}\n]}", 3, "ends too early"),
        ("[{rabbit, []}]. [].", 1, "only one term"),
        ("[" * 200 + "]" * 200 + ".", 1, "nested too deeply"),
    ],
)
def test_hostile_advanced_config_is_refused_with_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(InputError) as exc:
        _analyze(
            "",
            product="rabbitmq",
            from_version="3.12.14",
            to_version="3.13.7",
            advanced_config=text,
        )
    assert words in exc.value.message
    assert exc.value.line == line
    assert exc.value.field == "advanced_config"


def test_advanced_config_is_read_as_data() -> None:
    term = erlang_terms.parse((DATA / "advanced.config").read_text())
    found = {".".join(t.path): erlang_terms.plain(t.value) for t in erlang_terms.settings(term)}
    assert found["rabbit.forced_feature_flags_on_init"] == [
        "quorum_queue",
        "implicit_default_bindings",
    ]
    assert found["rabbitmq_management.path_prefix"] == "/mq"
    assert found["rabbitmq_management.cors_allow_origins"] == ["https://ops.example"]


def test_an_opensearch_yml_alias_bomb_is_refused_before_it_expands() -> None:
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
    )
    with pytest.raises(InputError):
        _analyze(bomb, product="opensearch", from_version="1.3.7", to_version="2.9.0")


def test_a_rabbitmq_conf_line_that_is_not_key_value_names_the_line() -> None:
    with pytest.raises(InputError) as exc:
        _analyze(
            "listeners.tcp.default = 5672\n$(reboot)\n",
            product="rabbitmq",
            from_version="3.12.1",
            to_version="3.13.7",
        )
    assert exc.value.line == 2


def test_routes_pick_the_fewest_hops() -> None:
    from apps.scenarios.migration import rabbitmq

    assert versions.route(
        rabbitmq.HOPS, versions.parse("3.9.29", field="f"), versions.parse("3.13.7", field="t")
    ) == ["3.10", "3.11", "3.12"]
    assert (
        versions.route(
            rabbitmq.HOPS, versions.parse("3.13.7", field="f"), versions.parse("4.2.1", field="t")
        )
        == []
    )
    assert versions.route(
        rabbitmq.HOPS, versions.parse("4.0.5", field="f"), versions.parse("4.3.0", field="t")
    ) == ["4.2"]


def test_the_checklist_and_the_refusal_are_said_in_russian_too() -> None:
    with translation.override("ru"):
        with pytest.raises(InputError) as exc:
            _analyze(product="opensearch", from_version="1.3", to_version="3.x")
        assert (
            exc.value.message
            == "OpenSearch 1.3 → 3.x: прямого пути нет; сначала обновитесь через 2.19"
        )
        analysis = _analyze(product="rabbitmq", from_version="3.12.14", to_version="3.13.7")
    titles = [s["title"] for s in analysis.facts["steps"]]
    assert "Проверьте, что кластер здоров" in titles


def test_the_explanation_is_grounded_by_the_guides_and_the_settings_found() -> None:
    scenario = registry.get("migration")
    analysis = _analyze(
        (DATA / "rabbitmq.conf").read_text(),
        product="rabbitmq",
        from_version="3.13.7",
        to_version="4.0.5",
    )
    query = scenario.grounding_query(analysis)
    for term in (
        "feature flags",
        "classic queue mirroring",
        "khepri_db",
        "classic_queue.default_version",
        "RabbitMQ 4.0.1 release notes",
    ):
        assert term in query, term
    assert "Do not add steps" in scenario.instruction
