"""Live pre-checks of the OpenSearch cluster the portal may read (OPENSEARCH_URL): GET
_cluster/health, _cat/nodes and _nodes/settings, read-only, through the client the
OpenSearch query scenario uses. Their answers become findings: a cluster that is not green,
nodes on other versions, and deprecated or removed settings in the nodes' own settings."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.migration import opensearch
from apps.scenarios.migration.plan import Plan, matches

MAX_NODES = 500
MAX_INDICES = 100_000


def _flatten(value: Any, prefix: str = "", out: dict[str, str] | None = None) -> dict[str, str]:
    out = {} if out is None else out
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list):
        out[prefix] = "[" + ", ".join(str(v) for v in value) + "]"
    else:
        out[prefix] = str(value)
    return out


def read() -> dict[str, Any]:
    """The three answers, trimmed to what the checklist uses."""
    from django.conf import settings

    from apps.scenarios.opensearch_dsl import client

    if not client.configured():
        raise InputError(
            _("OPENSEARCH_URL is not set on the portal server"), field="opensearch_live"
        )
    try:
        health = client._call("GET", "_cluster/health")
        nodes = client._call("GET", "_cat/nodes?format=json&h=name,version,node.role,master")
        node_settings = client._call("GET", "_nodes/settings")
        created = client._call("GET", "_all/_settings/index.version.created?flat_settings=true")
    except client.OpenSearchError as exc:
        raise InputError(str(exc), field="opensearch_live") from None
    if not isinstance(health, dict) or not isinstance(nodes, list):
        raise InputError(
            _("OpenSearch's answers are not what _cluster/health and _cat/nodes return"),
            field="opensearch_live",
        )
    per_node: dict[str, dict[str, str]] = {}
    for node in list((node_settings or {}).get("nodes", {}).values())[:MAX_NODES]:
        if isinstance(node, dict):
            per_node[str(node.get("name", ""))] = _flatten(node.get("settings", {}))
    return {
        "via": "OPENSEARCH_URL",
        "url": settings.OPENSEARCH_URL,
        "health": {
            k: health.get(k)
            for k in (
                "cluster_name",
                "status",
                "number_of_nodes",
                "unassigned_shards",
                "relocating_shards",
                "initializing_shards",
            )
        },
        "nodes": [
            {
                "name": str(n.get("name", "")),
                "version": str(n.get("version", "")),
                "role": str(n.get("node.role", "")),
                "manager": str(n.get("master", "")) == "*",
            }
            for n in nodes[:MAX_NODES]
            if isinstance(n, dict)
        ],
        "settings": per_node,
        # index → index.version.created, as the index settings field takes it
        "index_versions": {
            str(index): {
                "settings": {
                    "index.version.created": str(body["settings"]["index.version.created"])
                }
            }
            for index, body in list((created or {}).items())[:MAX_INDICES]
            if isinstance(body, dict)
            and str((body.get("settings") or {}).get("index.version.created", "")).isdigit()
        }
        if isinstance(created, dict)
        else {},
    }


def findings(plan: Plan, live: dict[str, Any]) -> None:
    req = plan.request
    health = live.get("health") or {}
    where = str(health.get("cluster_name") or live.get("url") or "")
    status = str(health.get("status") or "")
    if status and status != "green":
        plan.facts["blocked_health"] = status
        plan.add(
            Finding(
                Severity.ERROR,
                "opensearch.health",
                _(
                    "Cluster health is %(status)s (%(n)s unassigned shards): upgrade a green cluster only."
                )
                % {"status": status, "n": health.get("unassigned_shards", "?")},
                where=where,
                evidence=f'"status": "{status}"',
                fix=_(
                    "Find why shards are unassigned (GET _cluster/allocation/explain) and fix it first."
                ),
                refs=("_cluster/health", "_cluster/allocation/explain"),
            )
        )
    nodes = live.get("nodes") or []
    others = [
        n
        for n in nodes
        if n.get("version") and n["version"] != str(req.source) and not req.source.series_only
    ]
    if others:
        plan.add(
            Finding(
                Severity.WARNING,
                "opensearch.live-versions",
                _("%(n)d nodes do not run %(v)s: %(nodes)s.")
                % {
                    "n": len(others),
                    "v": req.source,
                    "nodes": ", ".join(f"{n['name']} {n['version']}" for n in others[:10]),
                },
                where=where,
                fix=_(
                    "Plan from the version the cluster runs; finish any upgrade under way first."
                ),
            )
        )
    manager = next((n["name"] for n in nodes if n.get("manager")), "")
    if nodes:
        plan.facts["live"] = {
            "via": live.get("via"),
            "url": live.get("url"),
            "status": status,
            "nodes": [
                f"{n['name']} {n['version']} {n['role']}{' *' if n.get('manager') else ''}"
                for n in nodes
            ],
            "manager": manager,
        }
    for node, values in sorted((live.get("settings") or {}).items()):
        for key, value in sorted(values.items()):
            for rule in opensearch.SETTING_RULES:
                if not matches(rule.key, key) or not rule.since <= req.target.series:
                    continue
                if rule.value is not None and value != rule.value:
                    continue
                removed = rule.removed and rule.since > req.source.series
                plan.add(
                    Finding(
                        Severity.ERROR if removed else Severity.WARNING,
                        "opensearch.setting-removed"
                        if removed
                        else "opensearch.setting-deprecated",
                        str(rule.message),
                        evidence=f"{key}: {value}",
                        where=_("node %(node)s (_nodes/settings)") % {"node": node},
                        fix=str(rule.fix),
                        refs=(rule.key.rstrip("."), rule.cite.title),
                    )
                )
