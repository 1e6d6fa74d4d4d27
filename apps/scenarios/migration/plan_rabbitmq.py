"""RabbitMQ checklist: prepare (release notes, backup, config, mirrored queues, Khepri), then
for each hop the feature flags, Erlang, health, the rolling upgrade of each node and the new
flags afterwards. Live facts (live.py) turn pre-checks into findings and block steps."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.migration import configs, rabbitmq
from apps.scenarios.migration.plan import Plan, matches
from apps.scenarios.migration.steps import Step
from apps.scenarios.migration.versions import Version

FOUR = (4, 0)
# Keys put into a shown grep command: never quotes or shell characters from the input.
_SAFE_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,120}")


def build(plan: Plan) -> None:
    req = plan.request
    settings = _settings(req.config, req.advanced_config)
    crosses_four = req.source.series < FOUR <= req.target.series
    plan.grounding += ["RabbitMQ upgrade", "feature flags", "enable_feature_flag all"]
    _prepare(plan, settings, crosses_four)
    live = dict(req.live or {})
    blocked = _live_findings(plan, live, crosses_four) if live else {}
    for i, (a, b) in enumerate(plan.hops):
        _hop(plan, a, b, blocked if i == 0 else {}, first=i == 0)
    plan.step(
        Step(
            "management-ui",
            "after",
            _("Clear the browser cache of the management UI"),
            "rabbitmq-diagnostics server_version",
            str(req.target),
            _(
                "Clear cache, local storage, session storage and cookies of the management UI's domain in the browsers that use it."
            ),
            _("The management UI loads without JavaScript errors and shows the new version."),
            _("Nothing to roll back."),
            rabbitmq.MANAGEMENT_UI,
        )
    )


def _settings(config: str, advanced: str) -> list[configs.Setting]:
    out: list[configs.Setting] = []
    if config.strip():
        if configs.looks_like_erlang(config):
            out += configs.advanced_config(config)
        else:
            out += configs.rabbitmq_conf(config)
    if advanced.strip():
        try:
            out += configs.advanced_config(advanced)
        except InputError as exc:
            exc.field = "advanced_config"
            raise
    return out


def _prepare(plan: Plan, settings: list[configs.Setting], crosses_four: bool) -> None:
    req = plan.request
    series = sorted({b.series for _a, b in plan.hops})
    cites = [rabbitmq.notes(rabbitmq.SERIES_NOTES[s]) for s in series if s in rabbitmq.SERIES_NOTES]
    plan.step(
        Step(
            "release-notes",
            "prepare",
            _("Read the release notes of every series on the path"),
            "rabbitmq-diagnostics server_version",
            str(req.source),
            _("Read the upgrade and compatibility sections of: %(notes)s.")
            % {"notes": ", ".join(c.title for c in cites) or _("the target release")},
            _("Every breaking change they name is a step of this checklist or known not to apply."),
            _("Nothing changed yet."),
            cites[-1] if cites else rabbitmq.UPGRADE,
            details=[c.url for c in cites],
        )
    )
    plan.step(
        Step(
            "backup",
            "prepare",
            _("Export the definitions and back up each node's data directory"),
            "rabbitmq-diagnostics status",
            _('The node is running; its data directory is listed under "Data directory".'),
            "rabbitmqctl export_definitions /var/backups/rabbitmq/definitions.json",
            "test -s /var/backups/rabbitmq/definitions.json && echo ok",
            _(
                "Import the definitions into a node of the old version (rabbitmqctl import_definitions FILE), or restore the data directory together with the old package."
            ),
            rabbitmq.BACKUP,
        )
    )
    bad = _config_findings(plan, settings)
    if bad:
        keys = sorted({s.key for s in bad})
        pattern = "|".join(k.replace(".", "[.]") for k in keys if _SAFE_KEY.fullmatch(k))
        plan.step(
            Step(
                "config",
                "prepare",
                _("Remove the settings the target version refuses"),
                f"grep -nE '{pattern}' /etc/rabbitmq/rabbitmq.conf /etc/rabbitmq/advanced.config",
                _("No line: nothing left that stops the node."),
                _("Change these settings: %(keys)s.") % {"keys": ", ".join(keys)},
                _(
                    "The same grep finds nothing; rabbitmq-diagnostics status shows the node running."
                ),
                _("Put back the config files from the backup."),
                rabbitmq.notes("4.0.1") if crosses_four else rabbitmq.UPGRADE,
                details=[f"{s.file}:{s.line}: {s.evidence()}" for s in bad],
            )
        )
    if crosses_four:
        plan.grounding += ["classic queue mirroring", "quorum queues", "khepri_db"]
        plan.step(
            Step(
                "mirrored-queues",
                "prepare",
                _("Migrate mirrored classic queues to quorum queues"),
                "rabbitmq-diagnostics check_if_cluster_has_classic_queue_mirroring_policy",
                _("Exit status 0: no policy enables classic queue mirroring."),
                _(
                    "For each queue under an ha-mode policy: declare a quorum queue (x-queue-type: quorum), move consumers and publishers, then drop the mirroring policy. 4.0 ignores mirroring: such queues keep one replica."
                ),
                "rabbitmq-diagnostics list_policies_with_classic_queue_mirroring -s --formatter=pretty_table",
                _(
                    "Keep the classic queue and its policy until its consumers run on the quorum queue; the migration goes queue by queue."
                ),
                rabbitmq.MCQ,
            )
        )
        plan.step(
            Step(
                "khepri",
                "prepare",
                _("Make sure Khepri is not enabled on 3.13"),
                "rabbitmqctl -q list_feature_flags name state | grep khepri_db",
                "khepri_db\tdisabled",
                _(
                    "Nothing to do when disabled. A 3.13 cluster with khepri_db enabled cannot be upgraded in place to 4.x: use a blue-green deployment."
                ),
                "rabbitmqctl -q list_feature_flags name state | grep khepri_db",
                _("Nothing changed."),
                rabbitmq.BLUE_GREEN,
            )
        )


def _config_findings(plan: Plan, settings: list[configs.Setting]) -> list[configs.Setting]:
    req = plan.request
    bad: list[configs.Setting] = []
    for setting in settings:
        key = setting.key if setting.file == "rabbitmq.conf" else setting.key
        for rule in rabbitmq.CONF_RULES:
            if not (req.source.series < rule.since <= req.target.series):
                continue
            if not matches(rule.key, key) or (
                rule.value is not None and setting.value != rule.value
            ):
                continue
            bad.append(setting)
            plan.grounding.append(rule.key.rstrip("."))
            plan.add(
                Finding(
                    Severity.ERROR if rule.fatal else Severity.WARNING,
                    "rabbitmq.config-removed",
                    str(rule.message),
                    line=setting.line,
                    evidence=setting.evidence(),
                    where=setting.file,
                    why=_("RabbitMQ %(v)s refuses it at boot.")
                    % {"v": "{}.{}".format(*rule.since)},
                    fix=str(rule.fix),
                    refs=(rule.key.rstrip("."), rule.cite.title),
                    data={"cite": rule.cite.to_dict()},
                )
            )
        if key in ("rabbit.forced_feature_flags_on_init",):
            plan.add(
                Finding(
                    Severity.WARNING,
                    "rabbitmq.forced-feature-flags",
                    _(
                        "forced_feature_flags_on_init decides the flags of a new node only; flags left out of it stay disabled and can block the next upgrade."
                    ),
                    line=setting.line,
                    evidence=setting.evidence()[:200],
                    where=setting.file,
                    fix=_("After every upgrade run rabbitmqctl enable_feature_flag all."),
                    refs=("forced_feature_flags_on_init",),
                )
            )
    if (
        req.source.series < (4, 0) <= req.target.series
        and not any(s.key == "max_message_size" for s in settings)
        and settings
    ):
        plan.add(
            Finding(
                Severity.INFO,
                "rabbitmq.max-message-size",
                _(
                    "The default maximum message size is 16 MiB from 4.0 (was 128 MiB); rabbitmq.conf does not set max_message_size."
                ),
                where="rabbitmq.conf",
                fix=_(
                    "Set max_message_size if publishers send larger messages, or move large payloads to a blob store."
                ),
                refs=("max_message_size",),
            )
        )
    return bad


def _flag_state(live: dict[str, Any]) -> dict[str, str]:
    return {str(f.get("name")): str(f.get("state")) for f in live.get("feature_flags") or []}


def _live_findings(plan: Plan, live: dict[str, Any], crosses_four: bool) -> dict[str, str]:
    """Findings from what the node said; {step kind: why blocked} for the first hop."""
    req = plan.request
    where = str(live.get("node") or live.get("url") or "")
    blocked: dict[str, str] = {}
    running = str(live.get("version") or "")
    if running and running.split("+")[0] != str(req.source) and not req.source.series_only:
        plan.add(
            Finding(
                Severity.ERROR,
                "rabbitmq.live-version",
                _(
                    "The node runs RabbitMQ %(running)s, not %(planned)s: the checklist is for another version."
                )
                % {"running": running, "planned": req.source},
                where=where,
                evidence=running,
                fix=_("Plan from the version the cluster runs."),
            )
        )
    for what in live.get("unread") or []:
        plan.add(
            Finding(
                Severity.WARNING,
                "rabbitmq.live-unread",
                _("The node's %(what)s could not be read; that pre-check must be run by hand.")
                % {"what": _unread_names().get(what, what)},
                where=where,
                why=_(
                    "The management API lists feature flags only to users with the administrator tag."
                )
                if what == "feature_flags"
                else "",
                fix=_("Run the step's pre-check command on a node."),
            )
        )
    flags = _flag_state(live)
    disabled = sorted(n for n, s in flags.items() if s == "disabled" and n not in rabbitmq.OPT_IN)
    if disabled:
        needed = {f.name for f in rabbitmq.required_for(plan.hops[0][1].series)}
        hard = [n for n in disabled if n in needed]
        why = _("Feature flags disabled: %(flags)s.") % {"flags": ", ".join(disabled)}
        blocked["flags"] = why
        plan.grounding += ["enable_feature_flag", *disabled[:5]]
        plan.add(
            Finding(
                Severity.ERROR,
                "rabbitmq.feature-flags-disabled",
                _(
                    "%(n)d stable feature flags are disabled on %(node)s; every stable flag must be enabled before the upgrade."
                )
                % {"n": len(disabled), "node": where or _("the node")},
                where=where,
                evidence=", ".join(disabled),
                why=(
                    _("RabbitMQ %(v)s refuses to start while these are disabled: %(flags)s.")
                    % {"v": plan.hops[0][1].series_label(), "flags": ", ".join(hard)}
                    if hard
                    else _(
                        "The upgrade may fail, and the next one will: stable flags graduate to required."
                    )
                ),
                fix="rabbitmqctl enable_feature_flag all",
                refs=("enable_feature_flag", "feature flags", *disabled[:5]),
                data={"disabled": disabled, "required_by_target": hard},
            )
        )
    if crosses_four and flags.get("khepri_db") == "enabled" and req.source.series == (3, 13):
        blocked["khepri"] = _("khepri_db is enabled on 3.13.")
        plan.add(
            Finding(
                Severity.ERROR,
                "rabbitmq.khepri-313",
                _("Khepri is enabled on this 3.13 cluster: it cannot be upgraded in place to 4.x."),
                where=where,
                evidence="khepri_db enabled",
                fix=_(
                    "Use a blue-green deployment: a new 4.x cluster, definitions imported, messages moved."
                ),
                refs=("khepri_db", "Blue-Green Deployment"),
            )
        )
    policies = live.get("mirror_policies") or []
    if crosses_four and policies:
        blocked["mirrored"] = _("Policies enable classic queue mirroring.")
        names = [f"{p.get('vhost')}/{p.get('name')}" for p in policies]
        plan.add(
            Finding(
                Severity.ERROR,
                "rabbitmq.classic-mirroring",
                _(
                    "%(n)d policies enable classic queue mirroring, which 4.0 removed: their queues would lose their replicas."
                )
                % {"n": len(policies)},
                where=where,
                evidence=", ".join(names[:10]),
                fix=_("Migrate these queues to quorum queues before the upgrade."),
                refs=("classic queue mirroring", "quorum queues"),
                data={"policies": names, "mirrored_queues": live.get("mirrored_queues", 0)},
            )
        )
    alarms = live.get("alarms") or []
    if alarms:
        blocked["health"] = _("Alarms in effect: %(a)s.") % {"a": ", ".join(map(str, alarms))}
        plan.add(
            Finding(
                Severity.ERROR,
                "rabbitmq.alarms",
                _("Alarms are in effect: %(a)s; upgrade a healthy cluster only.")
                % {"a": ", ".join(map(str, alarms))},
                where=where,
                evidence=", ".join(map(str, alarms)),
                fix=_("Resolve the memory or disk alarm first."),
                refs=("alarms",),
            )
        )
    erlang = str(live.get("erlang") or "")
    need = rabbitmq.ERLANG_MIN.get(req.target.series)
    if erlang and need and _erlang_tuple(erlang) < need:
        plan.add(
            Finding(
                Severity.WARNING,
                "rabbitmq.erlang",
                _("The node runs Erlang %(have)s; RabbitMQ %(target)s needs %(need)s or later.")
                % {
                    "have": erlang,
                    "target": req.target.series_label(),
                    "need": "{}.{}".format(*need),
                },
                where=where,
                evidence=erlang,
                fix=_("Upgrade Erlang together with RabbitMQ, from a repository that has it."),
                refs=("Erlang Version Requirements",),
            )
        )
    plan.facts["live"] = {
        k: live[k]
        for k in ("via", "url", "node", "cluster", "version", "erlang", "nodes", "queue_types")
        if k in live
    }
    plan.facts["live"]["feature_flags_disabled"] = disabled
    plan.facts["live"]["alarms"] = list(alarms)
    plan.facts["live"]["mirror_policies"] = [f"{p.get('vhost')}/{p.get('name')}" for p in policies]
    return blocked


def _unread_names() -> dict[str, str]:
    return {
        "feature_flags": _("feature flags"),
        "alarms": _("alarms"),
        "policies": _("policies"),
        "queues": _("queues"),
    }


def _erlang_tuple(text: str) -> tuple[int, int]:
    parts = [p for p in text.replace("-", ".").split(".") if p.isdigit()]
    return (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0) if parts else (0, 0)


def _hop(plan: Plan, a: Version, b: Version, blocked: dict[str, str], *, first: bool) -> None:
    hop = f"{a} → {b}" if len(plan.hops) > 1 else ""
    needed = [
        f.name for f in rabbitmq.required_for(b.series) if f.required and f.required > a.series
    ]
    flags = plan.step(
        Step(
            "feature-flags",
            "upgrade",
            _("Enable every stable feature flag before upgrading to %(v)s") % {"v": b},
            "rabbitmqctl -q list_feature_flags name state",
            _("No flag is disabled (khepri_db excepted: it is opt-in)."),
            "rabbitmqctl enable_feature_flag all",
            "rabbitmqctl -q list_feature_flags name state | grep -v khepri_db | grep -c disabled  # 0",
            _(
                "Feature flags cannot be disabled; enabling the stable flags of the running version is safe and needs no rollback."
            ),
            rabbitmq.FEATURE_FLAGS,
            hop=hop,
            details=[
                _("required by %(v)s: %(flags)s")
                % {"v": b.series_label(), "flags": ", ".join(needed)}
            ]
            if needed
            else [],
        )
    )
    flags.blocked = blocked.get("flags", "")
    need = rabbitmq.ERLANG_MIN.get(b.series)
    if need:
        plan.step(
            Step(
                "erlang",
                "upgrade",
                _("Have Erlang %(need)s or later ready for %(v)s")
                % {"need": "{}.{}".format(*need), "v": b},
                "rabbitmq-diagnostics erlang_version",
                _(
                    "Erlang/OTP %(need)s or later, or a package of it ready to install with RabbitMQ %(v)s."
                )
                % {"need": "{}.{}".format(*need), "v": b},
                _(
                    "Install the Erlang version RabbitMQ %(v)s supports together with it on each node."
                )
                % {"v": b},
                "rabbitmq-diagnostics erlang_version",
                _("Reinstall the previous Erlang together with the previous RabbitMQ package."),
                rabbitmq.ERLANG,
                hop=hop,
            )
        )
    health = plan.step(
        Step(
            "health",
            "upgrade",
            _("Check the cluster is healthy"),
            "rabbitmq-diagnostics check_local_alarms && rabbitmq-diagnostics check_if_node_is_quorum_critical",
            _(
                "Both exit 0: no alarm, and stopping the node keeps every quorum queue and stream available."
            ),
            _("Resolve alarms, partitions and running queue syncs first; upgrade at low traffic."),
            "rabbitmqctl cluster_status",
            _("Nothing changed."),
            rabbitmq.HEALTH,
            hop=hop,
        )
    )
    health.blocked = blocked.get("health", "")
    node = plan.step(
        Step(
            "nodes",
            "upgrade",
            _("Upgrade the nodes one by one to %(v)s") % {"v": b},
            "rabbitmq-upgrade await_online_quorum_plus_one -t 300",
            _("Exit status 0: enough nodes are online to lose this one."),
            f"rabbitmq-upgrade drain && systemctl stop rabbitmq-server && <install rabbitmq-server {b}> && systemctl start rabbitmq-server",
            f"rabbitmqctl await_startup && rabbitmq-diagnostics server_version  # {b}",
            _(
                "Before the package changes: rabbitmq-upgrade revive. After: downgrades are not supported; reinstall %(a)s and restore the node's data directory backup, or move to the old cluster (blue-green)."
            )
            % {"a": a},
            rabbitmq.ROLLING,
            hop=hop,
        )
    )
    node.blocked = " ".join(v for k, v in blocked.items() if k in ("flags", "khepri", "mirrored"))
    plan.step(
        Step(
            "flags-after",
            "after",
            _("Enable the new stable feature flags of %(v)s") % {"v": b},
            "rabbitmqctl cluster_status",
            _("Every node runs %(v)s.") % {"v": b},
            "rabbitmqctl enable_feature_flag all",
            "rabbitmqctl -q list_feature_flags name state | grep -v khepri_db | grep -c disabled  # 0",
            _("Not reversible: enable them only when no node will go back to %(a)s.") % {"a": a},
            rabbitmq.FEATURE_FLAGS,
            hop=hop,
        )
    )
    plan.step(
        Step(
            "rebalance",
            "after",
            _("Rebalance queue leaders"),
            "rabbitmq-diagnostics check_running",
            _("The node is running."),
            "rabbitmq-queues rebalance all",
            "rabbitmq-queues rebalance all --formatter pretty_table  # leaders spread over the nodes",
            _("Nothing to roll back: leaders move again on the next restart."),
            rabbitmq.REBALANCE,
            hop=hop,
        )
    )
