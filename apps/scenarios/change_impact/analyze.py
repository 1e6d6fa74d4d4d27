"""The deterministic half: a catalog, a service and a change → the blast radius, the owners
to tell, declared and observed dependencies compared, the quietest hours and a checklist."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.scenarios.change_impact import catalog as cat
from apps.scenarios.change_impact import observed, picture
from apps.scenarios.change_impact.graph import EXTERNAL, MAX_DEPTH, Edge, Graph, Node
from apps.scenarios.engine.base import Analysis, InputError, check_size
from apps.scenarios.engine.findings import Finding, Severity

DEFAULT_DEPTH = 2
MAX_CHANGE = 2000
NAMES_IN_MESSAGE = 8
_DATA_CHANGE = re.compile(
    r"schema|migrat|database|\bdb\b|postgres|mysql|table|column|index|миграц|схем|баз[аеуы]|табли|колонк|индекс",
    re.I,
)
_RESTART = re.compile(
    r"restart|reboot|upgrade|update|version|drain|rollout|deploy|перезапуск|перезагруз|обнов|верси|выкат|деплой",
    re.I,
)


def _names(nodes: list[str]) -> str:
    shown = ", ".join(nodes[:NAMES_IN_MESSAGE])
    more = len(nodes) - NAMES_IN_MESSAGE
    return shown + (_(" and %(n)d more") % {"n": more} if more > 0 else "")


def params_of(params: Mapping[str, Any]) -> tuple[str, str, int]:
    service = str(params.get("service") or "").strip()
    if not service:
        raise InputError(_("Name the service you are about to change."), field="service")
    change = str(params.get("change") or "").strip()
    if len(change) > MAX_CHANGE:
        raise InputError(
            _("The change description is longer than %(n)d characters.") % {"n": MAX_CHANGE},
            field="change",
        )
    try:
        depth = int(params.get("depth") or DEFAULT_DEPTH)
    except (TypeError, ValueError):
        raise InputError(_("The depth is a number from 1 to 6."), field="depth") from None
    if not 1 <= depth <= MAX_DEPTH:
        raise InputError(_("The depth is a number from 1 to 6."), field="depth")
    return service, change, depth


def unknown_service(name: str, catalog: cat.Catalog) -> InputError:
    known = catalog.names()
    close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
    if close:
        message = _("'%(name)s' is not in the catalog; did you mean '%(close)s'?") % {
            "name": name[:80],
            "close": close[0],
        }
    else:
        message = _("'%(name)s' is not in the catalog, which has: %(known)s") % {
            "name": name[:80],
            "known": _names(known) or "—",
        }
    return InputError(message, field="service")


def _problem_findings(catalog: cat.Catalog) -> list[Finding]:
    return [
        Finding(
            severity=Severity(p.severity),
            rule=p.rule,
            message=p.message,
            line=p.line,
            evidence=p.evidence,
            fix=_("Correct the catalog file, then run again.") if p.severity == "error" else "",
        )
        for p in catalog.problems
    ]


def _node_json(node: Node) -> dict[str, Any]:
    edge = node.edge
    return {
        "name": node.name,
        "kind": node.kind,
        "owner": node.owner,
        "depth": node.depth,
        "via": list(edge.via) if edge else [],
        "declared": bool(edge and edge.declared),
        "observed": bool(edge and edge.observed),
        "rate": round(edge.rate, 3) if edge and edge.rate is not None else None,
    }


def _paths(nodes: list[Node], target_name: str, graph: Graph, side: str) -> list[str]:
    """One line per node: the chain from it to the service (downstream) or back."""
    by_key = {n.key: n for n in nodes}
    lines = []
    for node in nodes:
        chain = [node.name]
        parent = node.parent
        while parent in by_key:
            chain.append(by_key[parent].name)
            parent = by_key[parent].parent
        chain.append(target_name)
        if side == "up":
            chain.reverse()
        lines.append(" → ".join(chain))
    return lines


def _drift(
    graph: Graph, reading: observed.Reading, group: set[str]
) -> tuple[list[Finding], list[str]]:
    """Declared and observed edges compared. Returns the findings and the names that the
    catalog declares but the traces never mention (their edges cannot be compared)."""
    findings: list[Finding] = []
    unseen: set[str] = set()
    lookback = observed.LOOKBACK_DAYS
    for edge in sorted(graph.edges.values(), key=lambda e: (e.src, e.dst)):
        src, dst = graph.node(edge.src), graph.node(edge.dst)
        touches = edge.src in group or edge.dst in group
        where = f"{src.name} → {dst.name}"
        if edge.declared and not edge.observed:
            if src.kind in ("api", "system") or dst.kind in ("api", "system"):
                continue
            missing = [n.name for n in (src, dst) if n.name.lower() not in reading.seen]
            if missing:
                unseen.update(missing)
                continue
            findings.append(
                Finding(
                    severity=Severity.WARNING if touches else Severity.INFO,
                    rule="change-impact.declared-not-observed",
                    message=_(
                        "The catalog says %(src)s depends on %(dst)s, but the traces show no "
                        "request from %(src)s to %(dst)s in %(days)d days"
                    )
                    % {"src": src.name, "dst": dst.name, "days": lookback},
                    line=edge.line,
                    where=where,
                    why=_(
                        "Either the dependency is gone (the catalog is out of date) or it is "
                        "used rarely (a batch job, a failover path) and will surprise you."
                    ),
                    fix=_("Ask the owner of %(src)s; remove it from the catalog if it is gone.")
                    % {"src": src.name},
                    refs=(src.name, dst.name),
                    data={"src": src.name, "dst": dst.name},
                )
            )
        elif edge.observed and not edge.declared:
            strangers = [n.name for n in (src, dst) if n.kind == EXTERNAL]
            message = _(
                "%(src)s calls %(dst)s (%(rate)s requests/s over %(days)d days), but the "
                "catalog does not declare it"
            ) % {"src": src.name, "dst": dst.name, "rate": _rate(edge), "days": lookback}
            if strangers:
                message += " " + ngettext(
                    "(%(names)s is not in the catalog)",
                    "(%(names)s are not in the catalog)",
                    len(strangers),
                ) % {"names": ", ".join(strangers)}
            findings.append(
                Finding(
                    severity=Severity.ERROR if touches else Severity.WARNING,
                    rule="change-impact.undeclared-dependency",
                    message=message,
                    where=where,
                    evidence=f'{observed.METRIC}{{client="{src.name}", server="{dst.name}"}}',
                    why=_(
                        "A blast radius read from the catalog alone misses this caller: its "
                        "owners would not be told."
                    ),
                    fix=_(
                        "Add %(dst)s to spec.dependsOn of %(src)s (or the API it calls to "
                        "spec.consumesApis)."
                    )
                    % {"src": src.name, "dst": dst.name},
                    refs=(src.name, dst.name),
                    data={"src": src.name, "dst": dst.name, "rate": edge.rate},
                )
            )
    return findings, sorted(unseen)


def _rate(edge: Edge) -> str:
    rate = edge.rate or 0.0
    return f"{rate:.2f}" if rate < 100 else f"{rate:.0f}"


def _owners(graph: Graph, target: cat.Entity, nodes: list[Node]) -> list[dict[str, Any]]:
    """Whom to tell: the owner of each affected entity (the service's own first), with the
    Group's e-mail when the catalog has it."""
    owners: dict[str, dict[str, Any]] = {}
    entities = [target, *(e for e in (graph.entity(n.key) for n in nodes) if e is not None)]
    for entity in entities:
        if entity.owner is None:
            continue
        row = owners.setdefault(
            entity.owner.key,
            {"owner": entity.owner.short().removeprefix("group:"), "email": "", "services": []},
        )
        group = graph.catalog.owner_of(entity)
        if group is not None:
            row["email"] = group.email
        if entity.name not in row["services"]:
            row["services"].append(entity.name)
    return list(owners.values())


def _checklist(
    target: cat.Entity,
    change: str,
    down: list[Node],
    owners: list[dict[str, Any]],
    traffic: dict[str, Any] | None,
    undeclared: list[str],
    consumers: dict[str, list[str]],
    reading: observed.Reading,
) -> list[str]:
    name = target.name
    items: list[str] = []
    if owners:
        items.append(
            _("Tell the owners before the change: %(owners)s.")
            % {"owners": ", ".join(o["owner"] for o in owners)}
        )
    if traffic and traffic.get("window_start") is not None:
        items.append(
            _(
                "Make the change in the quietest hours: %(start)02d:00–%(end)02d:00 %(zone)s "
                "(%(rate).2f requests/s on average; the peak is %(peak).2f at %(peak_hour)02d:00)."
            )
            % {
                "start": traffic["window_start"],
                "end": traffic["window_end"],
                "zone": traffic["zone"],
                "rate": traffic["window_rate"],
                "peak": traffic["peak_rate"],
                "peak_hour": traffic["peak_hour"],
            }
        )
    else:
        items.append(
            _(
                "Traffic by hour is not known here: choose the quietest hours of %(service)s "
                "from its dashboards."
            )
            % {"service": name}
        )
    direct = [n.name for n in down if n.depth == 1]
    if direct:
        items.append(
            _(
                "Watch the errors and latency of %(names)s during and after the change: they "
                "call %(service)s directly."
            )
            % {"names": _names(direct), "service": name}
        )
    if undeclared:
        items.append(
            _(
                "Ask the owners of %(names)s first: they call %(service)s, but the catalog does "
                "not say so."
            )
            % {"names": _names(undeclared), "service": name}
        )
    for api, users in consumers.items():
        if users:
            items.append(
                ngettext(
                    "Keep the API %(api)s backward compatible or version it: %(n)d consumer "
                    "(%(names)s) reads it.",
                    "Keep the API %(api)s backward compatible or version it: %(n)d consumers "
                    "(%(names)s) read it.",
                    len(users),
                )
                % {"api": api, "n": len(users), "names": _names(users)}
            )
    if target.kind == "resource" or _DATA_CHANGE.search(change):
        items.append(
            _(
                "Take a backup and check that it restores; keep the data change readable by "
                "the version that runs now."
            )
        )
    if _RESTART.search(change):
        items.append(_("Change one instance at a time and check that the others carry the load."))
    items.append(
        _("Read the past incidents of %(service)s listed below before you start.")
        % {"service": name}
    )
    items.append(
        _("Write down how to roll back, how long it takes, and the signal that triggers it.")
    )
    if reading.error:
        items.append(_("Prometheus could not be read: compare the dependencies by hand."))
    return items


def analysis(text: str, params: Mapping[str, Any]) -> Analysis:
    service, change, depth = params_of(params)
    catalog = cat.parse(check_size(text))
    target = catalog.by_name(service)
    if target is None or target.kind not in cat.GRAPH_KINDS:
        raise unknown_service(service, catalog)
    graph = Graph(catalog)
    reading = observed.read(target.name)
    graph.observe(reading.edges)
    down, up = graph.radius(target, depth)
    group = graph.group_of(target)

    findings = _problem_findings(catalog)
    if reading.error:
        findings.append(
            Finding(
                severity=Severity.WARNING,
                rule="change-impact.prometheus",
                message=reading.error,
                why=_("Without the traces only the catalog's own dependencies are shown."),
                fix=_("Check PROMETHEUS_URL and that Prometheus answers from the portal host."),
            )
        )
    drift: list[Finding] = []
    unseen: list[str] = []
    if observed.configured() and not reading.error:
        drift, unseen = _drift(graph, reading, group)
        findings += drift
        if unseen:
            findings.append(
                Finding(
                    severity=Severity.INFO,
                    rule="change-impact.not-in-traces",
                    message=ngettext(
                        "%(names)s is in the catalog but not in the traces: its dependencies "
                        "cannot be compared",
                        "%(names)s are in the catalog but not in the traces: their "
                        "dependencies cannot be compared",
                        len(unseen),
                    )
                    % {"names": _names(unseen)},
                    why=_(
                        "Databases and queues appear in the service graph only when their "
                        "clients' spans name them (peer.service, db.name)."
                    ),
                )
            )
    undeclared = sorted(
        {
            f.data["src"]
            for f in drift
            if f.rule == "change-impact.undeclared-dependency"
            and graph.key_of(str(f.data["dst"])) in group
        }
    )

    owners = _owners(graph, target, down)
    down_names = [n.name for n in down]
    if down:
        findings.append(
            Finding(
                severity=Severity.WARNING,
                rule="change-impact.downstream",
                message=ngettext(
                    "%(n)d service depends on %(service)s within %(depth)d steps: %(names)s",
                    "%(n)d services depend on %(service)s within %(depth)d steps: %(names)s",
                    len(down),
                )
                % {
                    "n": len(down),
                    "service": target.name,
                    "depth": depth,
                    "names": _names(down_names),
                },
                evidence="\n".join(_paths(down, target.name, graph, "down")[:20]),
                where=target.ref.short(),
                line=target.line,
                why=_("A failure or a breaking change of %(service)s reaches them.")
                % {"service": target.name},
                fix=_("Tell their owners and watch them during the change."),
                refs=(target.name,),
                data={"names": down_names},
            )
        )
    else:
        findings.append(
            Finding(
                severity=Severity.INFO,
                rule="change-impact.downstream",
                message=_("Nothing in the catalog depends on %(service)s")
                % {"service": target.name}
                + (
                    ""
                    if observed.configured() and not reading.error
                    else _(" (the traces were not read)")
                ),
                where=target.ref.short(),
                line=target.line,
                refs=(target.name,),
            )
        )
    if up:
        findings.append(
            Finding(
                severity=Severity.INFO,
                rule="change-impact.upstream",
                message=ngettext(
                    "%(service)s depends on %(n)d service within %(depth)d steps: %(names)s",
                    "%(service)s depends on %(n)d services within %(depth)d steps: %(names)s",
                    len(up),
                )
                % {
                    "n": len(up),
                    "service": target.name,
                    "depth": depth,
                    "names": _names([n.name for n in up]),
                },
                evidence="\n".join(_paths(up, target.name, graph, "up")[:20]),
                where=target.ref.short(),
                line=target.line,
                refs=(target.name,),
            )
        )
    if owners:
        findings.append(
            Finding(
                severity=Severity.INFO,
                rule="change-impact.owners",
                message=_("Owners to tell: %(owners)s")
                % {
                    "owners": "; ".join(
                        f"{o['owner']}{' <' + o['email'] + '>' if o['email'] else ''} "
                        f"({', '.join(o['services'][:6])})"
                        for o in owners
                    )
                },
                where=target.ref.short(),
            )
        )
    traffic = reading.traffic.to_json() if reading.traffic else None
    if traffic and traffic["window_start"] is not None:
        findings.append(
            Finding(
                severity=Severity.INFO,
                rule="change-impact.window",
                message=_(
                    "The quietest %(n)d hours of %(service)s: %(start)02d:00–%(end)02d:00 %(zone)s, "
                    "%(rate).2f requests/s on average (peak %(peak).2f at %(peak_hour)02d:00)"
                )
                % {
                    "n": traffic["window_hours"],
                    "service": target.name,
                    "start": traffic["window_start"],
                    "end": traffic["window_end"],
                    "zone": traffic["zone"],
                    "rate": traffic["window_rate"],
                    "peak": traffic["peak_rate"],
                    "peak_hour": traffic["peak_hour"],
                },
                evidence=observed.TRAFFIC.format(name=target.name),
                data=traffic,
            )
        )

    consumers: dict[str, list[str]] = {}
    provided = target.provides_apis if target.kind != "api" else [(target.ref, target.line)]
    for api, _line in provided:
        users = [
            e.name
            for e in catalog.entities.values()
            if any(ref.key == api.key for ref, _l in e.consumes_apis)
        ]
        consumers[api.name] = sorted(users)
    checklist = _checklist(target, change, down, owners, traffic, undeclared, consumers, reading)
    by_kind: dict[str, int] = {}
    for entity in catalog.entities.values():
        by_kind[entity.kind] = by_kind.get(entity.kind, 0) + 1
    owner_entity = catalog.owner_of(target)
    facts: dict[str, Any] = {
        "service": {
            "name": target.name,
            "ref": target.ref.short(),
            "kind": target.kind,
            "title": target.title,
            "owner": target.owner.short().removeprefix("group:") if target.owner else "",
            "owner_email": owner_entity.email if owner_entity else "",
            "system": target.system.name if target.system else "",
            "lifecycle": target.lifecycle,
            "type": target.type,
            "line": target.line,
        },
        "change": change,
        "depth": depth,
        "catalog": {"entities": len(catalog.entities), "by_kind": by_kind},
        "downstream": [_node_json(n) for n in down],
        "upstream": [_node_json(n) for n in up],
        "owners": owners,
        "observed": {
            "configured": observed.configured(),
            "error": reading.error,
            "edges": len(reading.edges),
            "lookback_days": observed.LOOKBACK_DAYS,
            "metric": observed.METRIC,
        },
        "traffic": traffic,
        "checklist": checklist,
        "picture": picture.layout(graph, target, down, up),
    }
    grounding = [target.name]
    if target.title and target.title != target.name:
        grounding.append(target.title)
    return Analysis(findings, facts, grounding)
