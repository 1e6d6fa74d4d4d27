"""OpenSearch checklist: breaking changes crossed, plugins, settings of opensearch.yml,
indices written by a Lucene the target no longer reads (reindex), backups and a snapshot
first, then the rolling upgrade as "Rolling Upgrade" describes it, cluster managers last."""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.migration import configs, opensearch
from apps.scenarios.migration.plan import Plan, matches
from apps.scenarios.migration.steps import Step

MAX_LISTED = 30
_PLUGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")


def build(plan: Plan) -> None:
    req = plan.request
    plan.grounding += ["rolling upgrade", "cluster.routing.allocation.enable", "_cluster/health"]
    settings = configs.opensearch_yml(req.config) if req.config.strip() else []
    plugins = parse_plugins(req.plugins) if req.plugins.strip() else []
    created = parse_index_settings(req.index_settings) if req.index_settings.strip() else {}
    versions = (req.live or {}).get("index_versions")
    if not created and versions:  # read from the cluster when none were pasted
        created = parse_index_settings(json.dumps(versions))
    _breaking(plan)
    _settings(plan, settings)
    plugin_details = _plugins(plan, plugins)
    old = _indices(plan, created)
    if req.live:
        from apps.scenarios.migration import live_opensearch

        live_opensearch.findings(plan, dict(req.live))
    _steps(plan, settings, plugins, plugin_details, old)


def parse_plugins(text: str) -> list[tuple[str, str]]:
    """(name, version) from `bin/opensearch-plugin list` or `GET _cat/plugins?v`."""
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        cols = raw.split()
        if not cols or cols[0].startswith("#") or cols[:2] == ["name", "component"]:
            continue
        if len(cols) >= 3:  # _cat/plugins: node component version
            name, version = cols[1], cols[2]
        else:
            name, version = cols[0].split("@")[0], ""
        if not _PLUGIN.fullmatch(name):
            raise InputError(
                _("not a plugin name: %(name)r") % {"name": name[:60]}, line=number, field="plugins"
            )
        out.setdefault(name, version)
    return sorted(out.items())


def parse_index_settings(text: str) -> dict[str, opensearch.Created]:
    """index → creating version, from `GET _all/_settings/index.version.created?flat_settings=true`
    (or the same without flat_settings)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            _("the index settings are not JSON: %(e)s") % {"e": exc.msg},
            line=exc.lineno,
            field="index_settings",
        ) from None
    if not isinstance(data, dict):
        raise InputError(
            _("expected the JSON object GET _all/_settings returns"), field="index_settings"
        )
    out: dict[str, opensearch.Created] = {}
    for index, body in data.items():
        settings = body.get("settings", {}) if isinstance(body, dict) else {}
        raw = settings.get("index.version.created")
        if raw is None:
            raw = (settings.get("index", {}) or {}).get("version", {}).get("created")
        if raw is None or not str(raw).isdigit() or len(str(raw)) > 10:
            raise InputError(
                _("index %(index)r has no numeric index.version.created")
                % {"index": str(index)[:80]},
                field="index_settings",
            )
        out[str(index)] = opensearch.decode_created(int(raw))
    return out


def _crossed(plan: Plan, since: tuple[int, int]) -> bool:
    req = plan.request
    return req.source.series < since <= req.target.series


def _breaking(plan: Plan) -> None:
    for change in opensearch.BREAKING_CHANGES:
        if not _crossed(plan, change.version):
            continue
        plan.add(
            Finding(
                Severity.WARNING,
                "opensearch.breaking-change",
                f"{change.title}: {change.what}",
                where="OpenSearch {}.{}".format(*change.version),
                fix=_(
                    "Check clients, templates and pipelines against this change before the upgrade."
                ),
                refs=(str(change.title), "Breaking changes"),
                data={
                    "version": "{}.{}".format(*change.version),
                    "cite": opensearch.BREAKING.to_dict(),
                },
            )
        )


def _settings(plan: Plan, settings: list[configs.Setting]) -> None:
    for setting in settings:
        for rule in opensearch.SETTING_RULES:
            if not matches(rule.key, setting.key) or not rule.since <= plan.request.target.series:
                continue
            if rule.value is not None and setting.value != rule.value:
                continue
            plan.grounding.append(rule.key.rstrip("."))
            removed = rule.removed and rule.since > plan.request.source.series
            plan.add(
                Finding(
                    Severity.ERROR if removed else Severity.WARNING,
                    "opensearch.setting-removed" if removed else "opensearch.setting-deprecated",
                    str(rule.message),
                    line=setting.line,
                    evidence=setting.evidence(),
                    where="opensearch.yml",
                    fix=str(rule.fix),
                    refs=(rule.key.rstrip("."), rule.cite.title),
                    data={"cite": rule.cite.to_dict()},
                )
            )


def _plugins(plan: Plan, plugins: list[tuple[str, str]]) -> list[str]:
    details: list[str] = []
    target = plan.request.target
    for name, version in plugins:
        official = name in opensearch.OFFICIAL_PLUGINS
        rule = next(
            (r for r in opensearch.PLUGIN_RULES if r.name == name and _crossed(plan, r.since)), None
        )
        if rule is not None:
            plan.add(
                Finding(
                    Severity.ERROR if rule.since >= (3, 0) else Severity.WARNING,
                    "opensearch.plugin-change",
                    f"{name}: {rule.message}",
                    where=_("plugins"),
                    evidence=f"{name} {version}".strip(),
                    fix=str(rule.fix),
                    refs=(name, "Breaking changes"),
                )
            )
        if not official:
            plan.grounding.append(name)
            plan.add(
                Finding(
                    Severity.WARNING,
                    "opensearch.plugin-custom",
                    _(
                        "%(name)s is not an OpenSearch Project plugin: it needs a build for OpenSearch %(v)s, and its own compatibility notes checked."
                    )
                    % {"name": name, "v": target},
                    where=_("plugins"),
                    evidence=f"{name} {version}".strip(),
                    why=_(
                        "A plugin installs only on the exact OpenSearch version it was built for; a node with a missing plugin build does not start."
                    ),
                    fix=_("Get or build %(name)s for %(v)s and test it on a staging node first.")
                    % {"name": name, "v": target},
                    refs=(name, "Review plugin compatibility"),
                )
            )
        details.append(
            _("%(name)s %(have)s → the build for %(v)s%(custom)s")
            % {
                "name": name,
                "have": version or "",
                "v": target,
                "custom": "" if official else _(" (custom plugin)"),
            }
        )
    return details


def _indices(plan: Plan, created: dict[str, opensearch.Created]) -> dict[str, opensearch.Created]:
    target = plan.request.target
    old = {i: c for i, c in created.items() if not opensearch.readable_by(c, target.major)}
    groups: dict[str, list[str]] = {}
    for index, c in sorted(old.items()):
        groups.setdefault(str(c), []).append(index)
    for version, names in groups.items():
        plan.add(
            Finding(
                Severity.ERROR,
                "opensearch.reindex",
                _(
                    "%(n)d indices were created by %(version)s: OpenSearch %(target)s cannot read them, reindex them before the upgrade."
                )
                % {"n": len(names), "version": version, "target": target},
                where="index.version.created",
                evidence=", ".join(names[:MAX_LISTED]) + (" …" if len(names) > MAX_LISTED else ""),
                why=_(
                    "An index is readable only by the Lucene major that wrote it and the next one; a node with unreadable indices does not start."
                ),
                fix=_(
                    "Reindex each into a new index on the current version (POST _reindex), swap the alias, delete the old one; or reingest from the origin."
                ),
                refs=("index.version.created", "Reindex", "Index compatibility reference"),
                data={"indices": names, "created": version},
            )
        )
    if created:
        plan.facts["indices"] = {"total": len(created), "to_reindex": len(old)}
    if created or plan.request.source.major != target.major:
        plan.grounding += ["index.version.created", "_reindex"]
    return old


def _steps(
    plan: Plan,
    settings: list[configs.Setting],
    plugins: list[tuple[str, str]],
    plugin_details: list[str],
    old: dict[str, opensearch.Created],
) -> None:
    req = plan.request
    major = req.source.major != req.target.major
    for a, b in plan.hops:
        hop = f"{a} → {b}" if len(plan.hops) > 1 else ""
        plan.step(
            Step(
                "breaking-changes",
                "prepare",
                _("Review the breaking changes up to %(v)s") % {"v": b},
                "GET /",
                _('"version": {"number": "%(v)s"}') % {"v": a},
                _(
                    "Check clients, index templates, ingest pipelines and dashboards against every breaking change between %(a)s and %(b)s (see the findings)."
                )
                % {"a": a, "b": b},
                _("Each change is handled or known not to apply."),
                _("Nothing changed yet."),
                opensearch.BREAKING,
                hop=hop,
            )
        )
    plan.step(
        Step(
            "plugins",
            "prepare",
            _("Have a build of every plugin for %(v)s") % {"v": req.target},
            "GET _cat/plugins?v&h=name,component,version",
            _("The same plugins on every node; each one has a %(v)s build at hand.")
            % {"v": req.target},
            _(
                "On each node, while it is stopped for its upgrade: bin/opensearch-plugin remove <name>, then bin/opensearch-plugin install <name or the URL of its %(v)s build>."
            )
            % {"v": req.target},
            _("GET _cat/plugins?v&h=name,component,version shows %(v)s for the upgraded node.")
            % {"v": req.target},
            _(
                "A node cannot go back with its old plugins: reinstall the old version and restore the snapshot."
            ),
            opensearch.PLUGINS,
            details=plugin_details,
        )
    )
    bad = [f for f in plan.findings if f.rule.startswith("opensearch.setting")]
    if bad:
        plan.step(
            Step(
                "settings",
                "prepare",
                _("Change the deprecated and removed settings of opensearch.yml"),
                "grep -nE '"
                + "|".join(sorted({(f.refs[0] if f.refs else "").replace(".", "[.]") for f in bad}))
                + "' config/opensearch.yml",
                _("Only the lines listed below."),
                _(
                    "Edit opensearch.yml on each node as listed (new names in the file of the upgraded node)."
                ),
                _("The node starts; its log has no deprecation warning for these settings."),
                _("Put back the backed-up opensearch.yml."),
                opensearch.BREAKING,
                details=[f"opensearch.yml:{f.line}: {f.evidence} — {f.fix}" for f in bad],
            )
        )
    if major:
        plan.step(
            Step(
                "reindex",
                "prepare",
                _("Reindex the indices an old major version created"),
                "GET _all/_settings/index.version.created?flat_settings=true",
                _("No index created before %(oldest)s.")
                % {"oldest": _oldest_readable(req.target.major)},
                _(
                    'For each listed index: create a new index with the same mapping, POST _reindex {"source": {"index": OLD}, "dest": {"index": NEW}}, move the alias to NEW, delete OLD.'
                ),
                _(
                    "GET _cat/count/NEW equals GET _cat/count/OLD before OLD is deleted; the settings query shows no old index."
                ),
                _("Keep OLD until NEW is verified; point the alias back to OLD."),
                opensearch.REINDEX,
                details=sorted(old)[:200]
                if old
                else [_("(give the index settings to list the indices)")],
            )
        )
    plan.step(
        Step(
            "backup-config",
            "prepare",
            _("Back up the configuration files"),
            "ls config/opensearch.yml config/jvm.options",
            _("The files are there."),
            _(
                "Copy config/ (opensearch.yml, jvm.options, plugin configs, TLS certificates) of every node to remote storage."
            ),
            _("The copy opens and has every node's files."),
            _("Copy the files back."),
            opensearch.BACKUP,
        )
    )
    plan.step(
        Step(
            "snapshot",
            "prepare",
            _("Take a snapshot to a remote repository"),
            "POST _snapshot/<repository>/_verify",
            _("Every node is listed: the repository is reachable from all nodes."),
            f"PUT _snapshot/<repository>/pre-upgrade-{req.target}?wait_for_completion=true",
            f'GET _snapshot/<repository>/pre-upgrade-{req.target}  # "state": "SUCCESS"',
            _(
                "This snapshot is the rollback: nodes cannot be downgraded, so a failed upgrade means a fresh install of %(v)s and a restore from it."
            )
            % {"v": req.source},
            opensearch.SNAPSHOT,
        )
    )
    for a, b in plan.hops:
        _rolling(plan, a, b, f"{a} → {b}" if len(plan.hops) > 1 else "")


def _oldest_readable(target_major: int) -> str:
    return {2: "Elasticsearch 7.0.0", 3: "OpenSearch 2.0.0"}.get(
        target_major, f"OpenSearch {target_major - 1}.0.0"
    )


def _rolling(plan: Plan, a: Any, b: Any, hop: str) -> None:
    health = plan.step(
        Step(
            "health",
            "upgrade",
            _("Cluster health is green"),
            "GET _cluster/health",
            '"status": "green", "unassigned_shards": 0',
            _(
                "Resolve unassigned shards and allocation problems first; stop non-essential indexing."
            ),
            "GET _cluster/health",
            _("Nothing changed."),
            opensearch.ROLLING,
            hop=hop,
        )
    )
    if plan.facts.get("blocked_health") and a == plan.request.source:
        health.blocked = _("Cluster health is %(status)s.") % {
            "status": plan.facts["blocked_health"]
        }
    plan.step(
        Step(
            "allocation",
            "upgrade",
            _("Allocate primaries only, then flush"),
            "GET _cluster/settings?include_defaults=true&filter_path=*.cluster.routing.allocation.enable",
            '"enable": "all"',
            'PUT _cluster/settings {"persistent": {"cluster.routing.allocation.enable": "primaries"}}; POST _flush',
            'GET _cluster/settings  # "enable": "primaries"; _flush: "failed": 0',
            'PUT _cluster/settings {"persistent": {"cluster.routing.allocation.enable": null}}',
            opensearch.ROLLING,
            hop=hop,
        )
    )
    plan.step(
        Step(
            "nodes",
            "upgrade",
            _("Upgrade the nodes one at a time to %(v)s, cluster-manager-eligible nodes last")
            % {"v": b},
            "GET _cat/nodes?v&h=name,version,node.role,master",
            _("Every node listed; note which one is the elected cluster manager (*)."),
            _(
                "Stop the node, install %(v)s keeping its data volume, install the plugin builds, start it. Data nodes first; cluster-manager-eligible nodes last (a node cannot join a cluster whose manager runs a newer version)."
            )
            % {"v": b},
            f"GET _cat/nodes?v&h=name,version,node.role,master  # the node shows {b}",
            _(
                "Nodes cannot be downgraded: a fresh install of %(a)s and a restore from the snapshot."
            )
            % {"a": a},
            opensearch.ROLLING,
            hop=hop,
        )
    )
    plan.step(
        Step(
            "allocation-back",
            "after",
            _("Enable shard allocation again"),
            f"GET _cat/nodes?v&h=name,version  # every node {b}",
            _("Every node runs %(v)s.") % {"v": b},
            'PUT _cluster/settings {"persistent": {"cluster.routing.allocation.enable": null}}',
            'GET _cluster/health?wait_for_status=green&timeout=10m  # "status": "green"',
            'PUT _cluster/settings {"persistent": {"cluster.routing.allocation.enable": "primaries"}}',
            opensearch.ROLLING,
            hop=hop,
        )
    )
