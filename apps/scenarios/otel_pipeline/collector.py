"""Structural checks of an OpenTelemetry Collector configuration, the way `otelcol validate`
reports them (component ids, pipelines, connectors) plus what a reviewer adds: signal
support, processor order, unused components, env-var placeholders, risky exporter settings.
Messages name the same path otelcol does ("service::pipelines::traces") and the line."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.utils.translation import gettext as _

from apps.scenarios.engine import yamlsafe as y
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.otel_pipeline import components as c

DOCS_CONFIG = "otel/opentelemetry.io/content/en/docs/collector/configuration.md"
DOCS_PROCESSORS = "otel/opentelemetry-collector/processor/README.md"
DOCS_EXPORTERHELPER = "otel/opentelemetry-collector/exporter/exporterhelper/README.md"
DOCS_CONNECTORS = "otel/opentelemetry-collector/connector/README.md"
DOCS_CONFMAP = "otel/opentelemetry-collector/confmap/provider/envprovider/README.md"
DOCS_MEMORY = "otel/opentelemetry-collector/processor/memorylimiterprocessor/README.md"
DOCS_BATCH = "otel/opentelemetry-collector/processor/batchprocessor/README.md"
DOCS_SECURITY = "otel/opentelemetry-collector/docs/security-best-practices.md"

KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
_SINGULAR = {
    "receivers": "receiver",
    "processors": "processor",
    "exporters": "exporter",
    "connectors": "connector",
    "extensions": "extension",
}
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_BARE_ENV = re.compile(r"(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)")
_ENV_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_SCHEMES = {"env", "file", "yaml", "http", "https"}
_LOCAL = re.compile(r"^(https?://)?(localhost|127\.|\[?::1\]?)")
_DROPPERS = {"filter", "tail_sampling", "probabilistic_sampler", "redaction", "groupbytrace"}
_CONTEXT = {"k8sattributes"}


@dataclass
class Component:
    kind: str  # receivers, processors, ...
    cid: str  # "otlp/2"
    node: yaml.Node  # its key node, for the line
    config: yaml.Node | None

    @property
    def type(self) -> str:
        return self.cid.split("/", 1)[0]

    @property
    def line(self) -> int:
        return y.line_of(self.node)


@dataclass
class Pipeline:
    pid: str  # "traces/backend"
    node: yaml.Node
    refs: dict[str, list[tuple[str, yaml.Node]]] = field(default_factory=dict)

    @property
    def signal(self) -> str:
        return self.pid.split("/", 1)[0]

    @property
    def where(self) -> str:
        return f"service::pipelines::{self.pid}"


@dataclass
class Collector:
    root: yaml.Node
    defined: dict[str, dict[str, Component]] = field(default_factory=dict)
    pipelines: list[Pipeline] = field(default_factory=list)
    external: set[str] = field(default_factory=set)  # sections filled by ${file:...} etc.


def looks_like(root: yaml.Node) -> bool:
    keys = {k for k, _a, _b in y.items(root)}
    return "service" in keys or bool(keys & {"receivers", "exporters"})


def _f(sev: Severity, rule: str, msg: str, node: yaml.Node | None, **kw: Any) -> Finding:
    return Finding(
        sev, f"otel.{rule}", msg, line=y.line_of(node) if node is not None else None, **kw
    )


def parse(root: yaml.Node) -> tuple[Collector, list[Finding]]:
    col = Collector(root)
    out: list[Finding] = []
    for kind in KINDS:
        col.defined[kind] = {}
        section = y.get(root, kind)
        if y.is_scalar(section) and "${" in (y.text(section) or ""):
            col.external.add(kind)
            continue
        seen: set[str] = set()
        for cid, knode, value in y.items(section):
            if cid in seen:
                out.append(
                    _f(
                        Severity.ERROR,
                        "duplicate-key",
                        _("%(kind)s: '%(id)s' is defined twice; the second one wins silently.")
                        % {"kind": kind, "id": cid},
                        knode,
                        where=kind,
                        fix=_("Keep one definition, or give the second its own name (type/name)."),
                    )
                )
            seen.add(cid)
            col.defined[kind][cid] = Component(kind, cid, knode, value)
    service = y.get(root, "service")
    pipelines = y.get(service, "pipelines")
    if service is None or pipelines is None:
        out.append(
            _f(
                Severity.ERROR,
                "no-pipelines",
                _("service::pipelines is missing: the collector starts nothing."),
                service or root,
                where="service",
                fix=_("Add service: pipelines: with at least one pipeline."),
                refs=(DOCS_CONFIG, "service pipelines"),
            )
        )
        return col, out
    for pid, knode, value in y.items(pipelines):
        p = Pipeline(pid, knode)
        for role in ("receivers", "processors", "exporters"):
            p.refs[role] = [(y.text(n) or "", n) for n in y.seq(y.get(value, role))]
        col.pipelines.append(p)
    return col, out


def check(root: yaml.Node) -> list[Finding]:
    col, out = parse(root)
    out += list(_pipeline_findings(col))
    out += list(_unknown_types(col))
    out += list(_unused(col))
    out += list(_connectors(col))
    out += list(_order(col))
    out += list(_settings(col))
    out += list(placeholders(root))
    return out


def _pipeline_findings(col: Collector) -> Iterator[Finding]:
    for p in col.pipelines:
        if p.signal not in c.SIGNALS:
            yield _f(
                Severity.ERROR,
                "pipeline-type",
                _("%(where)s: unknown pipeline type '%(t)s' (traces, metrics, logs or profiles).")
                % {"where": p.where, "t": p.signal},
                p.node,
                where=p.where,
                refs=(DOCS_CONFIG,),
            )
        for role in ("receivers", "exporters"):
            if not p.refs[role]:
                yield _f(
                    Severity.ERROR,
                    f"no-{role}",
                    _("%(where)s: must have at least one %(role)s.")
                    % {"where": p.where, "role": _SINGULAR[role]},
                    p.node,
                    where=p.where,
                    refs=(DOCS_CONFIG,),
                )
        for role, refs in p.refs.items():
            for cid, node in refs:
                kinds = [role] if role == "processors" else [role, "connectors"]
                if any(cid in col.defined[k] for k in kinds):
                    continue
                sev = Severity.WARNING if role in col.external else Severity.ERROR
                yield _f(
                    sev,
                    "not-configured",
                    _(
                        "%(where)s: references %(what)s '%(id)s' which is not configured (line %(line)d)"
                    )
                    % {
                        "where": p.where,
                        "what": _SINGULAR[role],
                        "id": cid,
                        "line": y.line_of(node),
                    },
                    node,
                    where=p.where,
                    evidence=f"{role}: [{', '.join(r for r, _n in refs)}]",
                    why=_("The collector refuses to start with this configuration."),
                    fix=_closest_fix(cid, col.defined[role]),
                    refs=(DOCS_CONFIG, f"{role} section"),
                    data={"id": cid, "role": role},
                )
            # the same id twice in one list is refused by otelcol too
            names = [cid for cid, _n in refs]
            for cid in sorted({n for n in names if names.count(n) > 1}):
                node = [n for i, n in refs if i == cid][1]
                yield _f(
                    Severity.ERROR,
                    "duplicate-reference",
                    _("%(where)s: references %(what)s '%(id)s' more than once")
                    % {"where": p.where, "what": _SINGULAR[role], "id": cid},
                    node,
                    where=p.where,
                    refs=(DOCS_CONFIG,),
                )
        # signal support of each known component in this pipeline
        for role in ("receivers", "processors", "exporters"):
            table = c.SECTIONS[role]
            for cid, node in p.refs[role]:
                ctype = cid.split("/", 1)[0]
                if (
                    cid in col.defined["connectors"]
                    or ctype not in table
                    or p.signal not in c.SIGNALS
                ):
                    continue
                if p.signal not in table[ctype]:
                    yield _f(
                        Severity.ERROR,
                        "signal-unsupported",
                        _(
                            "%(where)s: %(what)s '%(id)s' does not support %(signal)s (it handles %(has)s)."
                        )
                        % {
                            "where": p.where,
                            "what": _SINGULAR[role],
                            "id": cid,
                            "signal": p.signal,
                            "has": ", ".join(sorted(table[ctype])),
                        },
                        node,
                        where=p.where,
                        why=_(
                            "otelcol refuses the pipeline: the component has no factory for this signal."
                        ),
                        fix=_(
                            "Move it to a %(has)s pipeline or use a component that handles %(signal)s."
                        )
                        % {"has": " / ".join(sorted(table[ctype])), "signal": p.signal},
                        refs=(f"{ctype} {_SINGULAR[role]}", DOCS_CONFIG),
                    )


def _closest_fix(cid: str, defined: dict[str, Component]) -> str:
    same_type = [d for d in defined if d.split("/", 1)[0] == cid.split("/", 1)[0]]
    close = same_type[:1] or difflib.get_close_matches(cid, list(defined), n=1, cutoff=0.6)
    if close:
        return _("Did you mean '%(id)s'? Otherwise define '%(want)s' in its section.") % {
            "id": close[0],
            "want": cid,
        }
    return _("Define '%(want)s' in its section, or remove it from the pipeline.") % {"want": cid}


def _unknown_types(col: Collector) -> Iterator[Finding]:
    tables: dict[str, object] = {
        **c.SECTIONS,
        "connectors": c.CONNECTORS,
        "extensions": c.EXTENSIONS,
    }
    for kind, comps in col.defined.items():
        known = tables[kind]
        for comp in comps.values():
            if (kind, comp.type) in c.REMOVED:
                yield _f(
                    Severity.ERROR,
                    "component-removed",
                    _("%(kind)s: '%(type)s' was removed from the collector; use %(instead)s.")
                    % {"kind": kind, "type": comp.type, "instead": c.REMOVED[(kind, comp.type)]},
                    comp.node,
                    where=f"{kind}::{comp.cid}",
                    refs=(comp.type, DOCS_CONFIG),
                )
                continue
            if (kind, comp.type) in c.ALIASES:
                yield _f(
                    Severity.INFO,
                    "deprecated-alias",
                    _("%(kind)s: '%(type)s' is a deprecated alias of '%(new)s'.")
                    % {"kind": kind, "type": comp.type, "new": c.ALIASES[(kind, comp.type)]},
                    comp.node,
                    where=f"{kind}::{comp.cid}",
                    refs=("otel/opentelemetry-collector/exporter/otlphttpexporter/README.md",),
                )
            if comp.type in known:  # type: ignore[operator]
                continue
            close = difflib.get_close_matches(comp.type, list(known), n=1, cutoff=0.8)  # type: ignore[call-overload]
            if close:
                yield _f(
                    Severity.ERROR,
                    "unknown-type",
                    _("%(kind)s: unknown type '%(type)s'; did you mean '%(close)s'?")
                    % {"kind": kind, "type": comp.type, "close": close[0]},
                    comp.node,
                    where=f"{kind}::{comp.cid}",
                    why=_("otelcol stops at start-up: no factory is registered for this type."),
                    fix=_("Rename it to %(close)s.") % {"close": close[0]},
                    refs=(DOCS_CONFIG, "otelcol components"),
                )
            else:
                yield _f(
                    Severity.WARNING,
                    "unknown-type",
                    _("%(kind)s: '%(type)s' is not a core or contrib component we know.")
                    % {"kind": kind, "type": comp.type},
                    comp.node,
                    where=f"{kind}::{comp.cid}",
                    why=_(
                        "Unless your distribution is a custom build that includes it, the collector will not start."
                    ),
                    fix=_("Check `otelcol components` of the distribution you deploy."),
                    refs=(DOCS_CONFIG, "otelcol components"),
                )


def _unused(col: Collector) -> Iterator[Finding]:
    used: dict[str, set[str]] = {k: set() for k in ("receivers", "processors", "exporters")}
    for p in col.pipelines:
        for role, refs in p.refs.items():
            used[role].update(cid for cid, _n in refs)
    used["connectors"] = used["receivers"] | used["exporters"]
    for kind in ("receivers", "processors", "exporters", "connectors"):
        for comp in col.defined[kind].values():
            if comp.cid not in used[kind]:
                yield _f(
                    Severity.WARNING,
                    "unused",
                    _(
                        "%(kind)s: '%(id)s' is configured but used in no pipeline, so it never starts."
                    )
                    % {"kind": kind, "id": comp.cid},
                    comp.node,
                    where=f"{kind}::{comp.cid}",
                    why=_(
                        "Data you expect from or to it never flows; often a pipeline was forgotten."
                    ),
                    fix=_("Add it to a pipeline under service::pipelines, or delete it."),
                    refs=("otel/opentelemetry.io/content/en/docs/collector/troubleshooting.md",),
                )
    enabled = {y.text(n) or "": n for n in y.seq(y.get(y.get(col.root, "service"), "extensions"))}
    for name, node in enabled.items():
        if name not in col.defined["extensions"] and "extensions" not in col.external:
            yield _f(
                Severity.ERROR,
                "not-configured",
                _(
                    "service::extensions: references extension '%(id)s' which is not configured (line %(line)d)"
                )
                % {"id": name, "line": y.line_of(node)},
                node,
                where="service::extensions",
                fix=_closest_fix(name, col.defined["extensions"]),
                refs=(DOCS_CONFIG,),
            )
    for comp in col.defined["extensions"].values():
        if comp.cid not in enabled:
            yield _f(
                Severity.WARNING,
                "unused",
                _("extensions: '%(id)s' is configured but not listed in service::extensions.")
                % {"id": comp.cid},
                comp.node,
                where=f"extensions::{comp.cid}",
                fix=_("Add it to service: extensions: [...] or delete it."),
                refs=(DOCS_CONFIG,),
            )


def _connectors(col: Collector) -> Iterator[Finding]:
    for comp in col.defined["connectors"].values():
        as_exp = [p for p in col.pipelines if comp.cid in (i for i, _n in p.refs["exporters"])]
        as_rec = [p for p in col.pipelines if comp.cid in (i for i, _n in p.refs["receivers"])]
        if not as_exp and not as_rec:
            continue  # reported as unused
        if not as_exp or not as_rec:
            side = _("exporter") if as_exp else _("receiver")
            other = _("receiver") if as_exp else _("exporter")
            yield _f(
                Severity.ERROR,
                "connector-one-sided",
                _(
                    "connectors: '%(id)s' is used as %(side)s but never as %(other)s; a connector must be both."
                )
                % {"id": comp.cid, "side": side, "other": other},
                comp.node,
                where=f"connectors::{comp.cid}",
                why=_("otelcol refuses a connector that does not join two pipelines."),
                fix=_("Add it to the receivers of the pipeline that should get its output."),
                refs=(DOCS_CONNECTORS,),
            )
            continue
        pairs = c.CONNECTORS.get(comp.type)
        if pairs is None:
            continue
        for p in as_exp:
            if not any((p.signal, q.signal) in pairs for q in as_rec):
                yield _f(
                    Severity.ERROR,
                    "connector-signals",
                    _("connectors: '%(id)s' cannot take %(a)s from %(where)s to a %(b)s pipeline.")
                    % {
                        "id": comp.cid,
                        "a": p.signal,
                        "where": p.where,
                        "b": "/".join(sorted({q.signal for q in as_rec})),
                    },
                    p.node,
                    where=p.where,
                    why=_("Each connector supports fixed signal pairs: %(pairs)s.")
                    % {"pairs": ", ".join(f"{a}→{b}" for a, b in sorted(pairs))},
                    refs=(DOCS_CONNECTORS, comp.type),
                )


def _order(col: Collector) -> Iterator[Finding]:
    for p in col.pipelines:
        procs = [(cid.split("/", 1)[0], cid, n) for cid, n in p.refs["processors"]]
        types = [t for t, _i, _n in procs]
        if "memory_limiter" not in types:
            yield _f(
                Severity.WARNING,
                "no-memory-limiter",
                _("%(where)s: no memory_limiter processor.") % {"where": p.where},
                p.node,
                where=p.where,
                why=_(
                    "Under a traffic spike the collector grows until it is OOM-killed and loses everything it holds."
                ),
                fix=_("Add memory_limiter as the first processor of every pipeline."),
                refs=(DOCS_MEMORY, "memory_limiter"),
            )
        elif types[0] != "memory_limiter":
            _t, cid, node = procs[types.index("memory_limiter")]
            yield _f(
                Severity.WARNING,
                "memory-limiter-not-first",
                _("%(where)s: memory_limiter is not the first processor.") % {"where": p.where},
                node,
                where=p.where,
                evidence=f"processors: [{', '.join(i for _t, i, _n in procs)}]",
                why=_(
                    "Processors before it hold data it can no longer refuse: back-pressure reaches the receivers too late."
                ),
                fix=_("Move %(id)s to the front of the list.") % {"id": cid},
                refs=(DOCS_PROCESSORS, DOCS_MEMORY, "memory_limiter"),
            )
        if "batch" in types:
            i = types.index("batch")
            after = [cid for t, cid, _n in procs[i + 1 :]]
            if after:
                bad = [t for t in types[i + 1 :] if t in _DROPPERS | _CONTEXT]
                yield _f(
                    Severity.WARNING,
                    "batch-not-last",
                    _("%(where)s: batch comes before %(after)s.")
                    % {"where": p.where, "after": ", ".join(after)},
                    procs[i][2],
                    where=p.where,
                    evidence=f"processors: [{', '.join(i for _t, i, _n in procs)}]",
                    why=_(
                        "k8sattributes needs the request context that batching clears; sampling and filtering after batch batch data that is then dropped."
                    )
                    if bad
                    else _(
                        "Batching should come after every processor that drops or changes data."
                    ),
                    fix=_("Move batch to the end of the processors list."),
                    refs=(DOCS_PROCESSORS, DOCS_BATCH, "batch"),
                )


def _settings(col: Collector) -> Iterator[Finding]:
    for comp in col.defined["processors"].values():
        cfg = comp.config
        if comp.type == "memory_limiter":
            if y.get(cfg, "check_interval") is None:
                yield _f(
                    Severity.ERROR,
                    "memory-limiter-config",
                    _("processors::%(id)s: check_interval is required.") % {"id": comp.cid},
                    comp.node,
                    where=f"processors::{comp.cid}",
                    fix=_("Set check_interval: 1s."),
                    refs=(DOCS_MEMORY,),
                )
            if y.get(cfg, "limit_mib") is None and y.get(cfg, "limit_percentage") is None:
                yield _f(
                    Severity.ERROR,
                    "memory-limiter-config",
                    _("processors::%(id)s: neither limit_mib nor limit_percentage is set.")
                    % {"id": comp.cid},
                    comp.node,
                    where=f"processors::{comp.cid}",
                    fix=_(
                        "Set limit_percentage: 80 and spike_limit_percentage: 20 (or the _mib pair)."
                    ),
                    refs=(DOCS_MEMORY,),
                )
            limit, spike = _int(y.get(cfg, "limit_mib")), _int(y.get(cfg, "spike_limit_mib"))
            if limit is not None and spike is not None and spike >= limit:
                yield _f(
                    Severity.ERROR,
                    "memory-limiter-config",
                    _(
                        "processors::%(id)s: spike_limit_mib (%(s)d) must be below limit_mib (%(l)d)."
                    )
                    % {"id": comp.cid, "s": spike, "l": limit},
                    y.get(cfg, "spike_limit_mib"),
                    where=f"processors::{comp.cid}",
                    fix=_("A good start is a fifth of limit_mib."),
                    refs=(DOCS_MEMORY,),
                )
        if comp.type == "batch":
            size, top = _int(y.get(cfg, "send_batch_size")), _int(y.get(cfg, "send_batch_max_size"))
            if size is not None and top and top < size:
                yield _f(
                    Severity.ERROR,
                    "batch-config",
                    _(
                        "processors::%(id)s: send_batch_max_size (%(m)d) must be at least send_batch_size (%(s)d)."
                    )
                    % {"id": comp.cid, "m": top, "s": size},
                    y.get(cfg, "send_batch_max_size"),
                    where=f"processors::{comp.cid}",
                    refs=(DOCS_BATCH,),
                )
    for comp in col.defined["exporters"].values():
        cfg = comp.config
        where = f"exporters::{comp.cid}"
        endpoint = y.text(y.get(cfg, "endpoint")) or ""
        insecure = y.get(y.get(cfg, "tls"), "insecure")
        if insecure is not None and y.truthy(insecure) and endpoint and not _LOCAL.match(endpoint):
            yield _f(
                Severity.WARNING,
                "tls-insecure",
                _("%(where)s: TLS is off (tls::insecure: true) towards %(ep)s.")
                % {"where": where, "ep": endpoint},
                insecure,
                where=where,
                why=_(
                    "Telemetry often carries user ids, URLs and tokens; it crosses the network in clear text."
                ),
                fix=_("Remove insecure: true and give ca_file (or use the system roots)."),
                refs=(DOCS_SECURITY, "configtls"),
            )
        for key in ("sending_queue", "retry_on_failure"):
            enabled = y.get(y.get(cfg, key), "enabled")
            if (
                enabled is not None
                and not y.truthy(enabled)
                and comp.type not in ("debug", "nop", "file")
            ):
                yield _f(
                    Severity.WARNING,
                    "resilience-off",
                    _("%(where)s: %(key)s is disabled.") % {"where": where, "key": key},
                    enabled,
                    where=where,
                    why=_(
                        "Any hiccup of the backend drops data at once instead of buffering and retrying it."
                    ),
                    fix=_(
                        "Remove enabled: false; size queue_size for the outage you want to survive."
                    ),
                    refs=(DOCS_EXPORTERHELPER, key),
                )


def _int(node: yaml.Node | None) -> int | None:
    try:
        return int(y.text(node) or "")
    except ValueError:
        return None


def placeholders(root: yaml.Node) -> Iterator[Finding]:
    """${env:NAME} and friends: names, schemes, and the bare $NAME the collector no longer
    expands. Also fills nothing: the values are never resolved here."""
    needed: dict[str, int] = {}
    stack: list[yaml.Node] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack += [k, v]
            continue
        if isinstance(node, yaml.SequenceNode):
            stack += list(node.value)
            continue
        value = str(node.value)
        for m in _PLACEHOLDER.finditer(value):
            inner = m.group(1)
            scheme, _sep, rest = inner.partition(":")
            if not _sep:
                scheme, rest = "env", inner
            if scheme not in _SCHEMES:
                yield _f(
                    Severity.WARNING,
                    "placeholder-scheme",
                    _("${%(p)s}: unknown provider '%(s)s' (env, file, yaml, http, https).")
                    % {"p": inner, "s": scheme},
                    node,
                    refs=(DOCS_CONFMAP,),
                )
                continue
            if scheme != "env":
                continue
            name, _d, default = rest.partition(":-")
            if not _ENV_NAME.match(name):
                yield _f(
                    Severity.ERROR,
                    "placeholder-name",
                    _("${%(p)s}: '%(n)s' is not a valid environment variable name.")
                    % {"p": inner, "n": name},
                    node,
                    fix=_("Use letters, digits and underscores, not starting with a digit."),
                    refs=(DOCS_CONFMAP,),
                )
            elif not _d:
                needed.setdefault(name, y.line_of(node))
        for m in _BARE_ENV.finditer(_PLACEHOLDER.sub("", value).replace("$$", "")):
            yield _f(
                Severity.WARNING,
                "bare-env",
                _("$%(n)s is not expanded by current collectors; write ${env:%(n)s}.")
                % {"n": m.group(1)},
                node,
                evidence=value[:200],
                refs=(DOCS_CONFMAP,),
            )
    if needed:
        first = min(needed.values())
        names = ", ".join(sorted(needed))
        yield Finding(
            Severity.INFO,
            "otel.env-required",
            _("The configuration needs these environment variables, without defaults: %(names)s.")
            % {"names": names},
            line=first,
            why=_(
                "An unset variable becomes an empty string, which fails validation or, worse, passes it."
            ),
            fix=_("Set them in the collector's environment or give defaults: ${env:NAME:-value}."),
            refs=(DOCS_CONFMAP,),
            data={"variables": sorted(needed)},
        )
