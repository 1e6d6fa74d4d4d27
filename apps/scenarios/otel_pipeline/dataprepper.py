"""Structural checks of a Data Prepper pipelines file: one source per pipeline, sinks,
pipeline-to-pipeline links, routes, the OpenSearch sink's index and auth, buffer sizes."""

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

_BASE = "data-prepper/_data-prepper/pipelines/"
DOCS_PIPELINES = _BASE + "pipelines.md"
DOCS_OPENSEARCH = _BASE + "configuration/sinks/opensearch.md"
DOCS_BUFFER = _BASE + "configuration/buffers/bounded-blocking.md"
DOCS_PIPELINE_SOURCE = _BASE + "configuration/sources/pipeline.md"
DOCS_PIPELINE_SINK = _BASE + "configuration/sinks/pipeline.md"
DOCS_DLQ = _BASE + "dlq.md"
# Top-level keys of a pipelines file that are not pipelines.
NOT_PIPELINES = {"version", "pipeline_configurations", "extension"}
_TEMPLATE = re.compile(r"%\{[^}]*\}|\$\{[^}]*\}")
_SECRET_REF = re.compile(r"\$\{\{.*\}\}|\$\{.*\}")


@dataclass
class Plugin:
    name: str
    node: yaml.Node  # key node, for the line
    config: yaml.Node | None


@dataclass
class DPPipeline:
    name: str
    node: yaml.Node
    body: yaml.Node
    sources: list[Plugin] = field(default_factory=list)
    processors: list[Plugin] = field(default_factory=list)
    sinks: list[Plugin] = field(default_factory=list)
    buffer: Plugin | None = None


def looks_like(root: yaml.Node) -> bool:
    bodies = [v for k, _n, v in y.items(root) if k not in NOT_PIPELINES]
    return bool(bodies) and all(
        y.is_map(b) and (y.get(b, "source") is not None or y.get(b, "sink") is not None)
        for b in bodies
    )


def _plugins(node: yaml.Node | None) -> list[Plugin]:
    """A plugin list as written: `- name: {config}` items, or one `name: {config}` mapping."""
    out = []
    entries = y.seq(node) if y.is_seq(node) else [node] if node is not None else []
    for entry in entries:
        for name, knode, value in y.items(entry):
            out.append(Plugin(name, knode, value))
        if y.is_scalar(entry) and y.text(entry):
            out.append(Plugin(y.text(entry) or "", entry, None))
    return out


def parse(root: yaml.Node) -> list[DPPipeline]:
    out = []
    for name, knode, body in y.items(root):
        if name in NOT_PIPELINES:
            continue
        p = DPPipeline(name, knode, body)
        p.sources = _plugins(y.get(body, "source"))
        p.processors = _plugins(y.get(body, "processor"))
        p.sinks = _plugins(y.get(body, "sink"))
        buffers = _plugins(y.get(body, "buffer"))
        p.buffer = buffers[0] if buffers else None
        out.append(p)
    return out


def _f(sev: Severity, rule: str, msg: str, node: yaml.Node | None, **kw: Any) -> Finding:
    return Finding(
        sev, f"dataprepper.{rule}", msg, line=y.line_of(node) if node is not None else None, **kw
    )


def _target(plugin: Plugin) -> tuple[str, yaml.Node]:
    node = y.get(plugin.config, "name")
    return (y.text(node) or "", node if node is not None else plugin.node)


def check(root: yaml.Node) -> list[Finding]:
    pipelines = parse(root)
    by_name = {p.name: p for p in pipelines}
    out: list[Finding] = []
    for p in pipelines:
        out += list(_shape(p))
        out += list(_links(p, by_name))
        out += list(_routes(p))
        out += list(_unknown(p))
        out += list(_buffer(p))
        for sink in p.sinks:
            if sink.name == "opensearch":
                out += list(_opensearch(p, sink))
    out += list(_cycles(pipelines))
    return out


def _shape(p: DPPipeline) -> Iterator[Finding]:
    if len(p.sources) != 1:
        yield _f(
            Severity.ERROR,
            "source-count",
            _("pipeline '%(p)s' has %(n)d sources; a pipeline has exactly one.")
            % {"p": p.name, "n": len(p.sources)},
            p.sources[1].node if len(p.sources) > 1 else p.node,
            where=p.name,
            why=_("Data Prepper refuses to start the pipeline."),
            fix=_("Split it into one pipeline per source, joined with pipeline sinks and sources."),
            refs=(DOCS_PIPELINES, "source"),
        )
    if not p.sinks:
        yield _f(
            Severity.ERROR,
            "no-sink",
            _("pipeline '%(p)s' has no sink.") % {"p": p.name},
            p.node,
            where=p.name,
            fix=_("Add a sink (opensearch, pipeline, stdout, …)."),
            refs=(DOCS_PIPELINES, "sink"),
        )


def _links(p: DPPipeline, by_name: dict[str, DPPipeline]) -> Iterator[Finding]:
    for src in p.sources:
        if src.name != "pipeline":
            continue
        name, node = _target(src)
        upstream = by_name.get(name)
        if upstream is None:
            yield _f(
                Severity.ERROR,
                "pipeline-missing",
                _("pipeline '%(p)s' reads from pipeline '%(n)s', which is not defined.")
                % {"p": p.name, "n": name},
                node,
                where=f"{p.name}::source",
                fix=_closest(name, list(by_name)),
                refs=(DOCS_PIPELINE_SOURCE,),
            )
        elif p.name not in [_target(s)[0] for s in upstream.sinks if s.name == "pipeline"]:
            yield _f(
                Severity.ERROR,
                "pipeline-unlinked",
                _(
                    "pipeline '%(p)s' reads from '%(n)s', but '%(n)s' has no pipeline sink named '%(p)s'."
                )
                % {"p": p.name, "n": name},
                node,
                where=f"{p.name}::source",
                why=_("Nothing ever arrives: the link needs both the sink and the source."),
                fix=_("Add to '%(n)s': sink: - pipeline: name: %(p)s") % {"n": name, "p": p.name},
                refs=(DOCS_PIPELINE_SINK, DOCS_PIPELINE_SOURCE),
            )
    for sink in p.sinks:
        if sink.name != "pipeline":
            continue
        name, node = _target(sink)
        downstream = by_name.get(name)
        if downstream is None:
            yield _f(
                Severity.ERROR,
                "pipeline-missing",
                _("pipeline '%(p)s' writes to pipeline '%(n)s', which is not defined.")
                % {"p": p.name, "n": name},
                node,
                where=f"{p.name}::sink",
                fix=_closest(name, list(by_name)),
                refs=(DOCS_PIPELINE_SINK,),
            )
        elif p.name not in [_target(s)[0] for s in downstream.sources if s.name == "pipeline"]:
            yield _f(
                Severity.ERROR,
                "pipeline-unlinked",
                _("pipeline '%(p)s' writes to '%(n)s', but '%(n)s' does not read from '%(p)s'.")
                % {"p": p.name, "n": name},
                node,
                where=f"{p.name}::sink",
                fix=_("Give '%(n)s' the source: pipeline: name: %(p)s") % {"n": name, "p": p.name},
                refs=(DOCS_PIPELINE_SINK, DOCS_PIPELINE_SOURCE),
            )


def _closest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return _("Did you mean '%(n)s'?") % {"n": close[0]}
    return _("Define the pipeline or correct the name.")


def _cycles(pipelines: list[DPPipeline]) -> Iterator[Finding]:
    edges = {p.name: [_target(s)[0] for s in p.sinks if s.name == "pipeline"] for p in pipelines}
    reported: set[frozenset[str]] = set()
    for start in edges:
        path, todo = [start], [(start, iter(edges[start]))]
        while todo:
            _node, it = todo[-1]
            nxt = next(it, None)
            if nxt is None:
                todo.pop()
                path.pop()
                continue
            if nxt == start:
                loop = frozenset(path)
                if loop not in reported:
                    reported.add(loop)
                    p = next(q for q in pipelines if q.name == start)
                    yield _f(
                        Severity.ERROR,
                        "pipeline-cycle",
                        _("pipelines form a loop: %(path)s.")
                        % {"path": " → ".join([*path, start])},
                        p.node,
                        where=start,
                        refs=(DOCS_PIPELINES,),
                    )
            elif nxt in edges and nxt not in path:
                path.append(nxt)
                todo.append((nxt, iter(edges[nxt])))


def _routes(p: DPPipeline) -> Iterator[Finding]:
    defined: dict[str, yaml.Node] = {}
    for key in ("route", "routes"):
        for entry in y.seq(y.get(p.body, key)):
            for name, knode, _v in y.items(entry):
                defined[name] = knode
    used: set[str] = set()
    for sink in p.sinks:
        for node in y.seq(y.get(sink.config, "routes")):
            name = y.text(node) or ""
            used.add(name)
            if name not in defined:
                yield _f(
                    Severity.ERROR,
                    "route-missing",
                    _(
                        "pipeline '%(p)s': sink %(s)s uses route '%(r)s', which is not defined under route:."
                    )
                    % {"p": p.name, "s": sink.name, "r": name},
                    node,
                    where=f"{p.name}::sink::{sink.name}",
                    fix=_closest(name, list(defined)),
                    refs=(DOCS_PIPELINES, "conditional routing"),
                )
    for name, node in defined.items():
        if name not in used:
            yield _f(
                Severity.WARNING,
                "route-unused",
                _("pipeline '%(p)s': route '%(r)s' is used by no sink.") % {"p": p.name, "r": name},
                node,
                where=f"{p.name}::route",
                why=_(
                    "Events matching it go only to sinks without routes:, which is rarely the intent."
                ),
                refs=(DOCS_PIPELINES, "conditional routing"),
            )


def _unknown(p: DPPipeline) -> Iterator[Finding]:
    for plugins, known, what in (
        (p.sources, c.DP_SOURCES, _("source")),
        (p.processors, c.DP_PROCESSORS, _("processor")),
        (p.sinks, c.DP_SINKS, _("sink")),
        ([p.buffer] if p.buffer else [], c.DP_BUFFERS, _("buffer")),
    ):
        for plugin in plugins:
            if plugin.name in known:
                continue
            close = difflib.get_close_matches(plugin.name, sorted(known), n=1, cutoff=0.75)
            yield _f(
                Severity.ERROR if close else Severity.WARNING,
                "unknown-plugin",
                _("pipeline '%(p)s': unknown %(what)s plugin '%(n)s'.")
                % {"p": p.name, "what": what, "n": plugin.name}
                + (" " + _("Did you mean '%(n)s'?") % {"n": close[0]} if close else ""),
                plugin.node,
                where=p.name,
                refs=(DOCS_PIPELINES,),
            )


def _buffer(p: DPPipeline) -> Iterator[Finding]:
    if p.buffer is None or p.buffer.name != "bounded_blocking":
        return
    cfg = p.buffer.config
    size = _int(y.get(cfg, "buffer_size"), 12800)
    batch = _int(y.get(cfg, "batch_size"), 200)
    where = f"{p.name}::buffer"
    if batch > size:
        yield _f(
            Severity.ERROR,
            "buffer-size",
            _("pipeline '%(p)s': batch_size (%(b)d) is larger than buffer_size (%(s)d).")
            % {"p": p.name, "b": batch, "s": size},
            y.get(cfg, "batch_size") or p.buffer.node,
            where=where,
            why=_("A read can never fill a batch; workers wait for the delay on every read."),
            fix=_("Keep batch_size well below buffer_size (defaults: 200 and 12800)."),
            refs=(DOCS_BUFFER,),
        )
    elif size < 2 * batch:
        yield _f(
            Severity.WARNING,
            "buffer-size",
            _("pipeline '%(p)s': buffer_size (%(s)d) holds fewer than two batches of %(b)d.")
            % {"p": p.name, "s": size, "b": batch},
            y.get(cfg, "buffer_size") or p.buffer.node,
            where=where,
            why=_(
                "The source blocks (and HTTP sources answer 408/429) whenever one batch is in flight."
            ),
            fix=_("Raise buffer_size to several batches."),
            refs=(DOCS_BUFFER,),
        )
    if size > 1_000_000:
        yield _f(
            Severity.WARNING,
            "buffer-size",
            _("pipeline '%(p)s': buffer_size %(s)d records is held in the JVM heap.")
            % {"p": p.name, "s": size},
            y.get(cfg, "buffer_size"),
            where=where,
            why=_("A full buffer of large events can exhaust the heap and stop Data Prepper."),
            fix=_("Size the buffer from the heap and the event size, or use the kafka buffer."),
            refs=(DOCS_BUFFER,),
        )


def _int(node: yaml.Node | None, default: int) -> int:
    try:
        return int(y.text(node) or default)
    except ValueError:
        return default


def _opensearch(p: DPPipeline, sink: Plugin) -> Iterator[Finding]:
    cfg = sink.config
    where = f"{p.name}::sink::opensearch"
    hosts = [y.text(n) or "" for n in y.seq(y.get(cfg, "hosts"))]
    if not hosts:
        yield _f(
            Severity.ERROR,
            "opensearch-hosts",
            _("%(w)s: hosts is required.") % {"w": where},
            sink.node,
            where=where,
            refs=(DOCS_OPENSEARCH, "hosts"),
        )
    for node in y.seq(y.get(cfg, "hosts")):
        if (y.text(node) or "").startswith("http://"):
            yield _f(
                Severity.WARNING,
                "opensearch-plain-http",
                _("%(w)s: %(h)s is plain HTTP.") % {"w": where, "h": y.text(node)},
                node,
                where=where,
                why=_("Credentials and documents cross the network unencrypted."),
                fix=_("Use https:// and give cert: with the cluster's CA."),
                refs=(DOCS_OPENSEARCH, "cert"),
            )
    index_type = y.text(y.get(cfg, "index_type")) or "custom"
    index_node = y.get(cfg, "index")
    if index_type not in c.DP_INDEX_TYPES:
        yield _f(
            Severity.ERROR,
            "opensearch-index-type",
            _("%(w)s: unknown index_type '%(t)s'.") % {"w": where, "t": index_type},
            y.get(cfg, "index_type"),
            where=where,
            fix=_closest(index_type, sorted(c.DP_INDEX_TYPES)),
            refs=(DOCS_OPENSEARCH, "index_type"),
        )
    elif index_type == "custom" and index_node is None:
        yield _f(
            Severity.ERROR,
            "opensearch-index",
            _("%(w)s: index is required when index_type is custom (the default).") % {"w": where},
            sink.node,
            where=where,
            fix=_(
                "Set index: (e.g. app-logs-%%{yyyy.MM.dd}) or an index_type such as log-analytics."
            )
            % {},
            refs=(DOCS_OPENSEARCH, "index"),
        )
    if index_node is not None:
        index = y.text(index_node) or ""
        plain = _TEMPLATE.sub("", index)
        bad = [ch for ch in ' "*\\<|,>/?#:' if ch in plain]
        if plain != plain.lower() or bad or plain.startswith(("_", "-", "+")):
            yield _f(
                Severity.ERROR,
                "opensearch-index-name",
                _("%(w)s: '%(i)s' is not a valid OpenSearch index name.")
                % {"w": where, "i": index},
                index_node,
                where=where,
                why=_(
                    'OpenSearch index names are lowercase, without spaces or \\ / * ? " < > | , # :, and do not start with _ - +; every bulk request fails.'
                ),
                fix=_("Use a lowercase name; date patterns (yyyy.MM.dd) are fine."),
                refs=(DOCS_OPENSEARCH, "index"),
            )
    auth = any(y.get(cfg, k) is not None for k in ("username", "aws", "aws_sigv4", "cert"))
    if not auth:
        yield _f(
            Severity.WARNING,
            "opensearch-auth",
            _("%(w)s: no authentication (username/password, aws or cert) is configured.")
            % {"w": where},
            sink.node,
            where=where,
            why=_(
                "A secured cluster answers 401 to every bulk request; an open one accepts writes from anyone."
            ),
            fix=_(
                "Set username and password (from ${{aws_secrets:...}} or an environment variable) or aws:."
            ),
            refs=(DOCS_OPENSEARCH, "username", "password"),
        )
    password = y.get(cfg, "password")
    if (
        password is not None
        and (y.text(password) or "")
        and not _SECRET_REF.search(y.text(password) or "")
    ):
        yield _f(
            Severity.WARNING,
            "opensearch-password-plain",
            _("%(w)s: the password is written in the pipeline file.") % {"w": where},
            password,
            where=where,
            evidence="password: ****",
            fix=_("Reference a secret instead: ${{aws_secrets:...}} or an environment variable."),
            refs=(DOCS_OPENSEARCH, "password"),
        )
    insecure = y.get(cfg, "insecure")
    if insecure is not None and y.truthy(insecure):
        yield _f(
            Severity.WARNING,
            "opensearch-insecure",
            _("%(w)s: insecure: true turns off certificate verification.") % {"w": where},
            insecure,
            where=where,
            fix=_("Give cert: with the cluster's CA instead."),
            refs=(DOCS_OPENSEARCH, "insecure"),
        )
    bulk = y.get(cfg, "bulk_size")
    try:
        bulk_mib = float(y.text(bulk) or 5)
    except ValueError:
        bulk_mib = 5
    if bulk is not None and (bulk_mib < 0 or bulk_mib > 100):
        yield _f(
            Severity.WARNING,
            "opensearch-bulk-size",
            _("%(w)s: bulk_size %(b)s MiB is above OpenSearch's default 100 MB request limit.")
            % {"w": where, "b": y.text(bulk)},
            bulk,
            where=where,
            why=_("OpenSearch answers 413 Request Entity Too Large (http.max_content_length)."),
            fix=_("Keep bulk_size at a few MiB (the default is 5)."),
            refs=(DOCS_OPENSEARCH, "bulk_size", "413"),
        )
    if (
        y.get(cfg, "max_retries") is None
        and y.get(cfg, "dlq") is None
        and y.get(cfg, "dlq_file") is None
    ):
        yield _f(
            Severity.INFO,
            "opensearch-no-dlq",
            _("%(w)s: no dlq and no max_retries: rejected documents are retried forever or lost.")
            % {"w": where},
            sink.node,
            where=where,
            fix=_("Configure a dlq (or dlq_file) and max_retries."),
            refs=(DOCS_OPENSEARCH, DOCS_DLQ, "max_retries"),
        )
