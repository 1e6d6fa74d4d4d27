"""The Helm chart's processes, secrets, environment, HAProxy and network rules.

Same method as test_helm_chart.py (whose docstring says what is and is not validated): the
manifests come from Helm's own engine, and whatever consumes them runs for real where it
can here: the portal's settings and `manage.py check` on the container environment, the
haproxy binary on the HAProxy config.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.tests.helm_render import (
    CHART,
    NAMESPACE,
    Render,
    container,
    default_values,
    label,
    pod_labels,
    pod_spec,
    production_values,
    render,
)

REPO = CHART.parents[2]
APP_COMPONENTS = {"portal", "worker", "poller", "migrate", "scheduler"}
# Variables of docs/configuration.md the chart leaves unset on purpose.
NOT_SET_BY_CHART = {
    "PORT": "`make run` only",
    "LLM_DEV_PORT": "the dev vLLM server",
    "CELERY_EAGER": "tests: the chart runs real Celery workers",
    "QDRANT_PATH": "local mode; the chart always gives QDRANT_URL",
    "QDRANT_ENGINE": "embedded engines only; the chart always gives QDRANT_URL",
    "KNOWLEDGE_JOBS_INLINE": "tests and commands: the chart runs index jobs in Celery workers",
    "SCENARIO_TOOL_USER": "a portal started as root only; the chart's pods never run as root",
    "SCENARIO_TOOL_TMP": "the pod's own temporary directory is the right place",
    "ALERT_JOBS_INLINE": "tests and commands: the chart processes alerts in Celery workers",
    "ALERT_SECRET_KEY": "set from secrets.keys.alertSecretKey when given; else derived",
}


def app_workloads(r: Render) -> list[dict[str, Any]]:
    return [
        d
        for d in r.docs
        if d["kind"] in ("Deployment", "Job", "CronJob")
        and label(d, "app.kubernetes.io/component") in APP_COMPONENTS
    ]


# --- static checks -------------------------------------------------------------------------------


def test_values_files_pass_yamllint() -> None:
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    config = YamlLintConfig(
        "extends: default\n"
        "rules: {document-start: disable, line-length: {max: 100},"
        " comments: {min-spaces-from-content: 1}}\n"
    )
    for name in ("Chart.yaml", "values.yaml", "values-production.yaml"):
        text = (CHART / name).read_text()
        problems = [f"{name}:{p.line}: {p.message}" for p in linter.run(text, config)]
        assert problems == []
        assert isinstance(yaml.safe_load(text), dict)


_ASSIGN = re.compile(
    r"\$(\w+)\s*:=\s*(?:index\s+)?(\$?[\w.]*\.Values[\w.]*|\$\w+[\w.]*)(\s+\$\w+)?"
)
_RANGE = re.compile(r"range\s+\$\w+\s*,\s*\$(\w+)\s*:=\s*(\$?[\w.]*)")
_REF = re.compile(r"(\$\w+|\.Values)((?:\.\w+)+)")


def _resolve(expr: str, aliases: dict[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    if ".Values" in expr:
        return tuple(p for p in expr.split(".Values", 1)[1].split(".") if p)
    head, *rest = expr.split(".")
    if head.lstrip("$") in aliases:
        return aliases[head.lstrip("$")] + tuple(rest)
    return None


def _exists(values: Any, path: tuple[str, ...]) -> bool:
    for i, key in enumerate(path):
        if isinstance(values, list):
            return True  # list items are free-form (extraBackends, tolerations)
        if not isinstance(values, dict):
            return False
        if key == "*":
            return all(_exists(child, path[i + 1 :]) for child in values.values())
        if key not in values:
            return False
        values = values[key]
    return True


def test_every_values_path_a_template_reads_exists() -> None:
    values = default_values()
    missing = []
    for template in sorted((CHART / "templates").iterdir()):
        text = template.read_text()
        aliases: dict[str, tuple[str, ...]] = {}
        for m in _ASSIGN.finditer(text):
            path = _resolve(m[2], aliases)
            if path is not None:
                # `index $v.tiers $name` picks one entry of a map: check them all.
                aliases[m[1]] = path + (("*",) if m[3] else ())
        for m in _RANGE.finditer(text):
            path = _resolve(m[2], aliases)
            if path is not None:
                aliases[m[1]] = path + ("*",)
        for m in _REF.finditer(text):
            path = _resolve(m[1] + m[2], aliases)
            if path and not _exists(values, path):
                missing.append(f"{template.name}: {m[0]} -> .Values.{'.'.join(path)}")
    assert missing == []


def test_template_blocks_balance() -> None:
    """A quick pointed message; Helm's parser (the lint tests) is the authority."""
    opening = re.compile(r"\{\{-?\s*(if|range|with|define|block)\b")
    closing = re.compile(r"\{\{-?\s*end\s*-?\}\}")
    for template in (CHART / "templates").iterdir():
        text = re.sub(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", "", template.read_text(), flags=re.S)
        assert len(opening.findall(text)) == len(closing.findall(text)), template.name
        assert text.count("{{") == text.count("}}"), template.name


# --- processes -----------------------------------------------------------------------------------


def test_portal_worker_poller_and_migrations(default: Render) -> None:
    portal = default.one("Deployment", "portal")
    spec = pod_spec(portal)
    web = container(portal)
    assert portal["spec"]["replicas"] >= 2
    assert web["command"][:4] == ["python", "-m", "uvicorn", "portal.asgi:application"]
    assert "--ws=websockets-sansio" in web["command"]
    # uvicorn believes no forwarded header; the portal does, from TRUSTED_PROXIES only.
    assert "--no-proxy-headers" in web["command"]
    assert not [a for a in web["command"] if a.startswith(("--forwarded", "--proxy-headers"))]
    assert default.one("ConfigMap", "config")["data"]["TRUSTED_PROXIES"] == "10.111.0.0/16"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # Probes and Prometheus send the pod IP as Host: the portal must accept it.
    assert web["env"][0] == {
        "name": "POD_IP",
        "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
    }
    assert "$(POD_IP)" in next(e["value"] for e in web["env"] if e["name"] == "ALLOWED_HOSTS")
    anti = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    pdb = default.one("PodDisruptionBudget", "portal")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == portal["spec"]["selector"]["matchLabels"]
    assert [c["name"] for c in spec["initContainers"]] == ["wait-for-migrations", "collectstatic"]
    assert default.one("ConfigMap", "config")["data"]["LLM_POLL_IN_WEB"] == "false"

    assert container(default.one("Deployment", "poller"))["command"][-1] == "llm_poller"
    assert container(default.one("Deployment", "worker"))["command"][:4] == [
        "celery",
        "-A",
        "portal",
        "worker",
    ]
    job = default.one("Job", "migrate")
    assert job["metadata"]["name"].endswith("-migrate-1")  # one Job per revision
    assert container(job)["command"] == ["python", "manage.py", "migrate", "--noinput"]
    cron = default.one("CronJob", "scheduler")
    assert container(cron)["command"][-1] == "knowledge.sync_due_sources"
    assert container(cron, "queue-alert-sweep")["command"][-1] == "alert_triage.sweep"
    for obj in app_workloads(default):
        if obj["kind"] == "Deployment":
            first = pod_spec(obj)["initContainers"][0]
            assert "migrate --check" in first["command"][-1], obj["metadata"]["name"]


def test_qdrant_is_a_three_node_cluster(default: Render) -> None:
    sts = default.one("StatefulSet", "qdrant")
    qdrant = container(sts)
    env = {e["name"]: e.get("value") for e in qdrant["env"]}
    assert sts["spec"]["replicas"] == 3
    assert env["QDRANT__CLUSTER__ENABLED"] == "true"
    assert env["QDRANT__STORAGE__COLLECTION__REPLICATION_FACTOR"] == "2"
    assert {p["containerPort"] for p in qdrant["ports"]} == {6333, 6334, 6335}
    headless = next(
        s
        for s in default.objects("Service", "qdrant")
        if s["metadata"]["name"] == sts["spec"]["serviceName"]
    )
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert env["QDRANT_PEERS"] == f"{headless['metadata']['name']}.{NAMESPACE}.svc.cluster.local"
    anti = pod_spec(sts)["affinity"]["podAntiAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" in anti
    assert {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]} == {
        "storage",
        "snapshots",
    }
    url = default.one("ConfigMap", "config")["data"]["QDRANT_URL"]
    client_svc = next(
        s for s in default.objects("Service", "qdrant") if s["spec"].get("clusterIP") != "None"
    )
    assert url == f"http://{client_svc['metadata']['name']}:6333"


# --- secrets and the environment the portal reads ------------------------------------------------


@pytest.mark.parametrize("which", ["default", "production"])
def test_secrets_only_by_reference(which: str, request: pytest.FixtureRequest) -> None:
    r: Render = request.getfixturevalue(which)
    values = production_values() if which == "production" else {}
    allowed = {"opsdesk-secrets"} | {
        v["existingSecret"] for v in values.get("external", {}).values() if "existingSecret" in v
    }
    for cm in r.objects("ConfigMap"):
        for key in cm.get("data", {}):
            assert not re.search(r"PASSWORD|SECRET|API_KEY|DATABASE_URL|REDIS_URL", key), key
    for obj in app_workloads(r):
        spec = pod_spec(obj)
        volume = next(v for v in spec["volumes"] if v["name"] == "secrets")["secret"]
        assert volume["secretName"] == "opsdesk-secrets"
        files = {item["path"] for item in volume["items"]}
        for c in spec["containers"] + spec.get("initContainers", []):
            mount = next(m for m in c["volumeMounts"] if m["name"] == "secrets")
            assert mount["readOnly"] is True
            for e in c["env"]:
                if e["name"].endswith("_FILE"):
                    directory, _, name = e["value"].rpartition("/")
                    assert directory == mount["mountPath"] and name in files, e
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in allowed, e
                assert "value" not in e or not re.search(r"://[^:$]*:[^$@]+@", e["value"]), e


def kubelet_env(r: Render, c: dict[str, Any], spec: dict[str, Any], root: Path) -> dict[str, str]:
    """The environment the container gets: ConfigMap, env in order with $(VAR) expansion,
    Secret values, and volume paths mapped onto directories under `root`."""
    secret_values: dict[tuple[str, str], str] = {}

    def secret(name: str, key: str) -> str:
        samples = {
            "database-url": "postgres://opsdesk:pw@pg.corp.example:5432/opsdesk",
            "redis-url": "redis://:pw@redis.corp.example:6379/0",
        }
        return secret_values.setdefault((name, key), samples.get(key, secrets.token_hex(16)))

    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        cm = next(
            m
            for m in r.objects("ConfigMap")
            if m["metadata"]["name"] == source["configMapRef"]["name"]
        )
        env.update(cm["data"])
    for e in c["env"]:
        if "value" in e:
            env[e["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), e["value"])
        elif "fieldRef" in e["valueFrom"]:
            env[e["name"]] = "10.1.2.3"
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = secret(ref["name"], ref["key"])
    local: dict[str, Path] = {}
    for m in c["volumeMounts"]:
        local[m["mountPath"]] = root / m["name"]
        local[m["mountPath"]].mkdir(parents=True, exist_ok=True)
        volume = next(v for v in spec["volumes"] if v["name"] == m["name"])
        if "secret" in volume:
            for item in volume["secret"]["items"]:
                path = local[m["mountPath"]] / item["path"]
                path.write_text(secret(volume["secret"]["secretName"], item["key"]))
    for name, value in env.items():
        # The deepest mount holding the path, as inside the container.
        holders = [p for p in local if value == p or value.startswith(p.rstrip("/") + "/")]
        if holders:
            mount = max(holders, key=len)
            env[name] = str(local[mount]) + value[len(mount) :]
    return env


@pytest.mark.parametrize("which", ["default", "production"])
def test_portal_accepts_the_rendered_environment(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    r: Render = request.getfixturevalue(which)
    portal = r.one("Deployment", "portal")
    env = kubelet_env(r, container(portal), pod_spec(portal), tmp_path)
    assert env["OPSDESK_VAR"] == str(tmp_path / "var")
    backends = json.loads(env["LLM_BACKENDS"])
    if which == "production":  # the key from the Secret, expanded at container start
        assert all(re.fullmatch(r"[0-9a-f]{32}", b["api_key"]) for b in backends)
    clean = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **env}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_every_documented_variable_is_set_or_explained(default: Render, production: Render) -> None:
    documented = set(
        re.findall(r"^\| `([A-Z_]+)`", (REPO / "docs/configuration.md").read_text(), re.M)
    )
    assert set(NOT_SET_BY_CHART) <= documented
    rendered: set[str] = set()
    for r in (default, production):
        rendered |= set(r.one("ConfigMap", "config")["data"])
        for e in container(r.one("Deployment", "portal"))["env"]:
            rendered.add(e["name"].removesuffix("_FILE"))
    unset = documented - rendered - set(NOT_SET_BY_CHART)
    # A new setting: give it a value in values.yaml and configmap-env.yaml (or the pods' env
    # when secret), or say here why the chart leaves it unset.
    assert unset == set(), f"documented in docs/configuration.md, unknown to the chart: {unset}"


# --- HAProxy, Ingress, NetworkPolicy ----------------------------------------------------------


def _self_signed(directory: Path) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "opsdesk.example.local")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = directory / "opsdesk.pem"  # the names the chart's Secret items give
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "opsdesk.pem.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pem


@pytest.mark.parametrize("tls", [False, True])
def test_haproxy_config_is_valid_with_the_rendered_environment(tls: bool, tmp_path: Path) -> None:
    r = render(tmp_path, {"haproxy": {"tls": {"existingSecret": "opsdesk-tls"}}} if tls else None)
    cm = r.one("ConfigMap", "haproxy")
    shipped = (CHART / "files/haproxy.cfg").read_text()
    assert [
        line.rstrip() for line in cm["data"]["haproxy.cfg"].splitlines()
    ] == shipped.splitlines()
    haproxy = container(r.one("Deployment", "haproxy"))
    env = {e["name"]: e["value"] for e in haproxy["env"]}
    # The SRV name must be the portal's headless Service and its port's name.
    headless = next(
        s for s in r.objects("Service", "portal") if s["spec"].get("clusterIP") == "None"
    )
    port = headless["spec"]["ports"][0]["name"]
    assert (
        env["PORTAL_SRV"]
        == f"_{port}._tcp.{headless['metadata']['name']}.{NAMESPACE}.svc.cluster.local"
    )
    config = tmp_path / "haproxy.cfg"
    config.write_text(cm["data"]["haproxy.cfg"])
    if tls:
        assert env["TLS_CERT"] == "/usr/local/etc/haproxy/tls/opsdesk.pem"
        env["TLS_CERT"] = str(_self_signed(tmp_path))
    else:
        assert "TLS_CERT" not in env
    haproxy_bin = "/usr/sbin/haproxy"
    if not Path(haproxy_bin).exists():
        pytest.fail(
            "haproxy is not installed: make test installs it (deploy/dev/system-packages.sh)"
        )
    result = subprocess.run(
        [haproxy_bin, "-c", "-f", str(config)],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr


def test_ingress_instead_of_haproxy(tmp_path: Path) -> None:
    r = render(tmp_path, {"ingress": {"enabled": True}, "haproxy": {"enabled": False}})
    assert r.findings == [] and r.refusals == []
    assert not r.objects("Deployment", "haproxy")
    main, metrics = r.objects("Ingress")
    notes = main["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert notes["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert metrics["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/metrics"
    policy = next(p for p in r.objects("NetworkPolicy", "portal"))
    sources = policy["spec"]["ingress"][0]["from"]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "d8-ingress-nginx"}}
    } in sources


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        present = expr["key"] in labels
        if expr["operator"] == "Exists" and not present:
            return False
        if expr["operator"] == "In" and labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def test_only_opsdesk_pods_reach_vllm_and_qdrant(default: Render) -> None:
    pods = {
        d["metadata"]["name"]: pod_labels(d)
        for d in default.docs
        if d["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob")
    }
    clients = {name for name, labels in pods.items() if labels.get("opsdesk.io/client") == "true"}
    components = {pods[name]["app.kubernetes.io/component"] for name in clients}
    assert components == APP_COMPONENTS
    monitoring = {
        "namespaceSelector": default_values()["networkPolicy"]["monitoringNamespaceSelector"]
    }
    for component in ("vllm", "qdrant"):
        policy = default.one("NetworkPolicy", component)
        guarded = {
            n for n, labels in pods.items() if _selects(policy["spec"]["podSelector"], labels)
        }
        assert guarded and not guarded & clients
        for rule in policy["spec"]["ingress"]:
            for source in rule["from"]:
                if "podSelector" in source:
                    allowed = {
                        n for n, labels in pods.items() if _selects(source["podSelector"], labels)
                    }
                    # Opsdesk's own pods, or (Qdrant) the peers among themselves.
                    assert allowed <= clients | guarded, (component, allowed)
                else:  # Prometheus' namespace only
                    assert source == monitoring, (component, source)
