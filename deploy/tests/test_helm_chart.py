"""The Helm chart in deploy/helm/opsdesk.

What these tests validate, and with what:
- Helm's own engine (the Helm v4 Go library that helm-sdkpy bundles; see helm_render.py):
  `helm lint` of the chart with its default values, with values-production.yaml, and with
  variants (external services, Ingress, TLS, API keys), failing on any template, YAML or
  metadata error Helm reports and on any value the chart itself refuses. Values the chart
  must refuse (not N+1, tensor parallelism wider than a node, ...) are shown refused.
- The manifests Helm renders (read back from the lint run), parsed and checked: one
  LLM_BACKENDS entry per vLLM replica pod, addressed by the DNS name its StatefulSet and
  headless Service give it; GPUs = tensor-parallel size; probes, spreading, budgets;
  secrets only as Secret references and *_FILE mounts; NetworkPolicies.
- The programs that consume the output: every LLM_BACKENDS entry passes the gateway's own
  validator, CAPACITY_PLANNED the capacity planner's parser, and the portal container's whole
  environment passes settings.py and `manage.py check` (Secret files and $(VAR) expansion
  done as the kubelet does them); the HAProxy config passes the real haproxy binary with the
  environment the rendered Deployment gives it, with and without TLS.
- Static checks: every .Values path a template reads exists in values.yaml; {{ if/range/with/
  define }} blocks close; yamllint on the values files; the production example's N+1
  arithmetic recomputed independently of the chart.

Not validated here (no Kubernetes API server, no GPU, no registry): that the API server
accepts the objects (no OpenAPI schema check), that the images exist and start, Helm's
release lifecycle (install, upgrade, rollback), scheduling onto real nodes, vLLM serving on a
GPU, and a Qdrant cluster actually forming.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from deploy.tests.helm_render import (
    NAMESPACE,
    Render,
    container,
    default_values,
    label,
    merge_values,
    pod_spec,
    production_values,
    render,
)


def configmap_env(r: Render) -> dict[str, str]:
    return r.one("ConfigMap", "config")["data"]


def env_value(c: dict[str, Any], name: str) -> Any:
    return next((e.get("value", e.get("valueFrom")) for e in c["env"] if e["name"] == name), None)


def llm_backends(r: Render) -> list[dict[str, Any]]:
    raw = configmap_env(r).get("LLM_BACKENDS") or env_value(
        container(r.one("Deployment", "portal")), "LLM_BACKENDS"
    )
    return json.loads(raw)


# --- Helm itself ---------------------------------------------------------------------------------


def test_default_values_lint_clean(default: Render) -> None:
    assert default.findings == [], default.log[-3000:]
    assert default.refusals == []
    kinds = {d["kind"] for d in default.docs}
    assert {"Deployment", "StatefulSet", "Service", "ConfigMap", "Job", "CronJob"} <= kinds
    assert {"PodDisruptionBudget", "NetworkPolicy", "PersistentVolumeClaim"} <= kinds


def test_production_values_lint_clean(production: Render) -> None:
    assert production.findings == [], production.log[-3000:]
    assert production.refusals == []
    assert {"ServiceMonitor"} <= {d["kind"] for d in production.docs}


@pytest.mark.parametrize(
    ("overrides", "refusal"),
    [
        (
            {"vllm": {"tiers": {"fast": {"replicas": 2, "requiredReplicas": 2, "nodes": 2}}}},
            "vllm.tiers.fast is not N+1: losing one of 2 nodes takes 1 of 2 replicas",
        ),
        (
            {"vllm": {"tiers": {"heavy": {"tensorParallelSize": 4, "gpusPerNode": 2}}}},
            "tensorParallelSize 4 needs 4 GPUs on one node, nodes have 2",
        ),
        (
            {"vllm": {"tiers": {"fast": {"replicas": 6, "nodes": 2, "gpusPerNode": 2}}}},
            "6 replicas over 2 nodes put 3 on one node, 3 GPUs; nodes have 2",
        ),
        ({"vllm": {"tiers": {"medium": {"enabled": True}}}}, "two tiers only, fast and heavy"),
        ({"qdrant": {"replicas": 2}}, "Raft needs a majority"),
        (
            {"config": {"llm": {"extraBackends": [{"name": "x", "api_key": "k"}]}}},
            "no api_key here",
        ),
        ({"postgresql": {"enabled": False}}, "external.postgresql.existingSecret"),
        ({"secrets": {"existingSecret": ""}}, "secrets.existingSecret must name a Secret"),
        ({"config": {"trustedProxies": []}}, "config.trustedProxies must list the network"),
        ({"ldap": {"enabled": True, "serverUri": "ldaps://dc1:636"}}, "ldap.userSearchBase"),
    ],
)
def test_chart_refuses_bad_values(tmp_path: Path, overrides: dict[str, Any], refusal: str) -> None:
    result = render(tmp_path, overrides)
    assert any(refusal in message for message in result.refusals), result.refusals


# --- LLM backends and vLLM ---------------------------------------------------------------------


@pytest.mark.parametrize("which", ["default", "production"])
def test_llm_backends_list_every_replica_by_its_pod_name(
    which: str, request: pytest.FixtureRequest
) -> None:
    from apps.inference.backends import validate_entry

    r: Render = request.getfixturevalue(which)
    backends = llm_backends(r)
    expected: list[str] = []
    for sts in r.objects("StatefulSet"):
        tier = label(sts, "opsdesk.io/tier")
        if not tier:
            continue
        headless = next(
            s for s in r.objects("Service") if s["metadata"]["name"] == sts["spec"]["serviceName"]
        )
        # A pod gets <pod>.<service>.<namespace>.svc... only from a headless Service that
        # selects it; not-ready pods keep their name so the poller sees the real error.
        assert headless["spec"]["clusterIP"] == "None"
        assert headless["spec"]["publishNotReadyAddresses"] is True
        pod_labels = sts["spec"]["template"]["metadata"]["labels"]
        assert headless["spec"]["selector"].items() <= pod_labels.items()
        vllm = container(sts)
        port = vllm["ports"][0]["containerPort"]
        served = next(a.split("=", 1)[1] for a in vllm["args"] if a.startswith("--served-model"))
        for i in range(sts["spec"]["replicas"]):
            host = f"{sts['metadata']['name']}-{i}.{headless['metadata']['name']}"
            url = f"http://{host}.{NAMESPACE}.svc.cluster.local:{port}/v1"
            expected.append(f"{tier}-{i} {tier} {url} {served}")
    got = [f"{b['name']} {b['tier']} {b['url']} {b['model']}" for b in backends]
    assert sorted(got) == sorted(expected)
    for index, entry in enumerate(backends):
        validate_entry(entry, index)  # the gateway's own check of LLM_BACKENDS
        assert "enabled" not in entry  # an admin's "disabled" survives restarts
        assert entry["base_model"] is False and entry["development"] is False  # instruct models


def test_vllm_api_key_reaches_the_portal_from_the_secret_only(production: Render) -> None:
    assert "LLM_BACKENDS" not in configmap_env(production)
    portal = container(production.one("Deployment", "portal"))
    names = [e["name"] for e in portal["env"]]
    # $(OPSDESK_VLLM_API_KEY) expands only if defined before LLM_BACKENDS.
    assert names.index("OPSDESK_VLLM_API_KEY") < names.index("LLM_BACKENDS")
    ref = env_value(portal, "OPSDESK_VLLM_API_KEY")["secretKeyRef"]
    assert ref == {"name": "opsdesk-secrets", "key": "vllm-api-key"}
    assert {b["api_key"] for b in llm_backends(production)} == {"$(OPSDESK_VLLM_API_KEY)"}
    for sts in production.objects("StatefulSet"):
        if label(sts, "opsdesk.io/tier"):
            assert env_value(container(sts), "VLLM_API_KEY")["secretKeyRef"] == ref


@pytest.mark.parametrize("which", ["default", "production"])
def test_vllm_replicas_serve_offline_on_their_gpus(
    which: str, request: pytest.FixtureRequest
) -> None:
    r: Render = request.getfixturevalue(which)
    values = merge_values(default_values(), production_values() if which == "production" else {})
    tiers = [s for s in r.objects("StatefulSet") if label(s, "opsdesk.io/tier")]
    assert sorted(str(label(s, "opsdesk.io/tier")) for s in tiers) == ["fast", "heavy"]
    for sts in tiers:
        tier = values["vllm"]["tiers"][label(sts, "opsdesk.io/tier")]
        spec = pod_spec(sts)
        vllm = container(sts)
        tp = tier["tensorParallelSize"]
        assert vllm["resources"]["limits"]["nvidia.com/gpu"] == tp
        assert vllm["resources"]["requests"]["nvidia.com/gpu"] == tp
        args = vllm["args"]
        assert args[0] == f"{values['models']['mountPath']}/{tier['model']}"
        for flag in (
            f"--tensor-parallel-size={tp}",
            f"--gpu-memory-utilization={tier['gpuMemoryUtilization']}",
            f"--max-model-len={tier['maxModelLen']}",
            "--enable-prefix-caching",
        ):
            assert flag in args
        assert env_value(vllm, "HF_HUB_OFFLINE") == "1"
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert vllm[probe]["httpGet"] == {"path": "/health", "port": "http"}
        (spread,) = spec["topologySpreadConstraints"]
        assert spread["topologyKey"] == "kubernetes.io/hostname"
        assert spread["whenUnsatisfiable"] == "DoNotSchedule" and spread["maxSkew"] == 1
        assert spread["labelSelector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
        assert spec.get("nodeSelector", {}) == tier["nodeSelector"]
        shm = next(v for v in spec["volumes"] if v["name"] == "shm")
        assert shm["emptyDir"]["medium"] == "Memory"
        pdb = next(
            p
            for p in r.objects("PodDisruptionBudget")
            if p["spec"]["selector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
        )
        assert pdb["spec"]["maxUnavailable"] == 1


def test_production_example_is_n_plus_1_on_servers() -> None:
    """Recomputed from values-production.yaml alone, apart from the chart's own check."""
    tiers = merge_values(default_values(), production_values())["vllm"]["tiers"]
    pools = set()
    gpus_used = 0
    for name, tier in tiers.items():
        nodes, per_node_gpus, tp = tier["nodes"], tier["gpusPerNode"], tier["tensorParallelSize"]
        # maxSkew 1 over `nodes` nodes: replicas as even as possible.
        placement = [
            tier["replicas"] // nodes + (i < tier["replicas"] % nodes) for i in range(nodes)
        ]
        assert max(placement) * tp <= per_node_gpus, f"{name}: does not fit its servers"
        survivors = tier["replicas"] - max(placement)
        assert survivors >= tier["requiredReplicas"], f"{name}: loses N with one server"
        pools.add(json.dumps(tier["nodeSelector"], sort_keys=True))
        gpus_used += tier["replicas"] * tp
        assert nodes * per_node_gpus >= tier["replicas"] * tp
    assert len(pools) == 2  # a pool per tier: fast replicas never strand a heavy one
    assert gpus_used <= 4 * 2  # 4 servers with 2 L40S each


def test_capacity_settings_follow_the_tiers(production: Render) -> None:
    from apps.capacity.compare import parse

    env = configmap_env(production)
    assert json.loads(env["CAPACITY_TIER_REPLICAS"]) == {"fast": 2, "heavy": 1}
    planned = json.loads(env["CAPACITY_PLANNED"])
    assert planned["heavy"]["tp"] == 2 and planned["fast"]["tp"] == 1
    for spec in planned.values():
        parse(spec)  # the Cluster page's own reading of CAPACITY_PLANNED


def test_service_monitor_instance_is_the_backend_host_port(production: Render) -> None:
    by_tier = {b["name"]: urlsplit(b["url"]).netloc for b in llm_backends(production)}
    for sts in production.objects("StatefulSet"):
        tier = label(sts, "opsdesk.io/tier")
        if not tier:
            continue
        monitor = next(
            m
            for m in production.objects("ServiceMonitor")
            if m["spec"]["selector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
        )
        relabel = monitor["spec"]["endpoints"][0]["relabelings"][0]
        assert relabel["sourceLabels"] == ["__meta_kubernetes_pod_name"]
        assert relabel["targetLabel"] == "instance"
        for i in range(sts["spec"]["replicas"]):
            pod = f"{sts['metadata']['name']}-{i}"
            # Prometheus' default regex (.*) puts the whole pod name in ${1}.
            assert relabel["replacement"].replace("${1}", pod) == by_tier[f"{tier}-{i}"]


def test_alert_rules_pass_promtool_and_fire_when_a_server_is_lost(
    production: Render, tmp_path: Path
) -> None:
    """Prometheus' own rule engine (promtool) on the rendered PrometheusRule."""
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(promtool).exists():
        pytest.fail("promtool is not installed: make test installs it (Debian's prometheus)")
    groups = production.one("PrometheusRule", "alerts")["spec"]["groups"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    check = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "rules.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout + check.stderr

    rules = {(r["alert"], r["labels"].get("tier")): r for g in groups for r in g["rules"]}
    fast = next(
        s for s in production.objects("StatefulSet") if label(s, "opsdesk.io/tier") == "fast"
    )
    heavy = next(
        s for s in production.objects("StatefulSet") if label(s, "opsdesk.io/tier") == "heavy"
    )

    def up(sts: dict[str, Any], i: int, values: str) -> dict[str, str]:
        name = sts["metadata"]["name"]
        series = f'up{{namespace="{NAMESPACE}",service="{name}",pod="{name}-{i}"}}'
        return {"series": series, "values": values}

    def expected(alert: str, tier: str) -> dict[str, Any]:
        rule = rules[(alert, tier)]
        return {"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}

    healthy_heavy = [up(heavy, i, "1x20") for i in range(2)]
    # fast: 4 replicas, 2 per server, N = 2. One server goes at minute 5 (its 2 replicas);
    # below N: three replicas go.
    server_lost = [up(fast, i, "1x20" if i < 2 else "1x5 0x15") for i in range(4)]
    below_n = [up(fast, i, "1x20" if i == 0 else "1x5 0x15") for i in range(4)]
    # One replica gone is already the spare gone: losing the other server would leave 1 < N.
    one_replica = [up(fast, i, "1x20" if i else "1x5 0x15") for i in range(4)]
    down = rules[("OpsdeskVLLMReplicaDown", None)]
    tests = [
        {
            "interval": "1m",
            "input_series": server_lost + healthy_heavy,
            "alert_rule_test": [
                {
                    "eval_time": "15m",
                    "alertname": "OpsdeskTierSpareGone",
                    "exp_alerts": [expected("OpsdeskTierSpareGone", "fast")],
                },
                {"eval_time": "15m", "alertname": "OpsdeskTierBelowRequired", "exp_alerts": []},
                {
                    "eval_time": "15m",
                    "alertname": "OpsdeskVLLMReplicaDown",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                **down["labels"],
                                "namespace": NAMESPACE,
                                "service": fast["metadata"]["name"],
                                "pod": f"{fast['metadata']['name']}-{i}",
                            },
                            "exp_annotations": {
                                **down["annotations"],
                                "summary": down["annotations"]["summary"].replace(
                                    "{{ $labels.pod }}", f"{fast['metadata']['name']}-{i}"
                                ),
                            },
                        }
                        for i in (2, 3)
                    ],
                },
            ],
        },
        {
            "interval": "1m",
            "input_series": one_replica + healthy_heavy,
            "alert_rule_test": [
                {
                    "eval_time": "15m",
                    "alertname": "OpsdeskTierSpareGone",
                    "exp_alerts": [expected("OpsdeskTierSpareGone", "fast")],
                }
            ],
        },
        {
            "interval": "1m",
            "input_series": below_n + healthy_heavy,
            "alert_rule_test": [
                {
                    "eval_time": "15m",
                    "alertname": "OpsdeskTierBelowRequired",
                    "exp_alerts": [expected("OpsdeskTierBelowRequired", "fast")],
                }
            ],
        },
    ]
    (tmp_path / "tests.yaml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests})
    )
    run = subprocess.run(
        [promtool, "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_portal_metrics_limited_to_prometheus(default: Render, production: Render) -> None:
    """METRICS_ALLOWED_NETWORKS by default; with secrets.keys.metricsToken the token is a
    file from the Secret and the ServiceMonitor sends it."""
    assert configmap_env(default)["METRICS_ALLOWED_NETWORKS"] == "10.111.0.0/16"
    assert env_value(container(default.one("Deployment", "portal")), "METRICS_TOKEN_FILE") is None
    web = container(production.one("Deployment", "portal"))
    assert env_value(web, "METRICS_TOKEN_FILE") == "/run/secrets/opsdesk/metrics-token"
    monitor = production.one("ServiceMonitor", "portal")
    auth = monitor["spec"]["endpoints"][0]["authorization"]
    assert auth == {
        "type": "Bearer",
        "credentials": {"name": "opsdesk-secrets", "key": "metrics-token"},
    }


def test_messenger_secrets_reach_portal_and_workers_as_files_only(
    default: Render, production: Render
) -> None:
    files = {
        "SLACK_SIGNING_SECRET_FILE",
        "SLACK_BOT_TOKEN_FILE",
        "MATTERMOST_BOT_TOKEN_FILE",
        "MATTERMOST_COMMAND_TOKEN_FILE",
        "MATTERMOST_WEBHOOK_TOKEN_FILE",
    }
    # The webhook runs in the portal, the answer in a Celery worker: both need them.
    for name in ("portal", "worker"):
        env = {e["name"] for e in container(production.one("Deployment", name))["env"]}
        assert files <= env, name
        assert not files & {e["name"] for e in container(default.one("Deployment", name))["env"]}
    config = configmap_env(production)
    assert config["MATTERMOST_URL"] == "https://mattermost.corp.example"
    assert config["SLACK_RESPONSE_URL_PREFIXES"] == "https://hooks.slack.com/"
    assert not any(
        key.startswith(("SLACK", "MATTERMOST")) and key.endswith(("_TOKEN", "_SECRET"))
        for key in config
    )
