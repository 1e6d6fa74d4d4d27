"""Reliability and security rules for nginx where gixy-ng is silent.

They read crossplane's tree (includes inlined, each statement with its file and line) and
follow nginx's inheritance: array directives such as proxy_set_header are inherited from
the enclosing block only when the block sets none of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.proxy_config.bundle import Bundle, finding


@dataclass(eq=False)
class Node:
    directive: str
    args: list[str]
    line: int
    file: str
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    def own(self, name: str) -> list[Node]:
        return [c for c in self.children if c.directive == name]

    def effective(self, name: str) -> list[Node]:
        """The statements `name` that apply in this block: its own, else the nearest
        enclosing block's (nginx's inheritance)."""
        node: Node | None = self
        while node is not None:
            found = node.own(name)
            if found:
                return found
            node = node.parent
        return []

    def ancestors(self) -> Iterator[Node]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def context(self) -> str:
        """http or stream: which top-level block this statement is in."""
        for a in [self, *self.ancestors()]:
            if a.directive in ("http", "stream", "mail"):
                return a.directive
        return "main"


def build(payload: dict[str, Any]) -> Node:
    root = Node("", [], 0, "")

    def add(parent: Node, stmts: list[dict[str, Any]]) -> None:
        for s in stmts:
            node = Node(
                str(s.get("directive", "")),
                [str(a) for a in s.get("args", [])],
                int(s.get("line", 0) or 0),
                str(s.get("file", "")),
                parent,
            )
            parent.children.append(node)
            if "block" in s:
                add(node, s["block"])

    configs = payload.get("config") or [{}]
    add(root, configs[0].get("parsed", []))
    return root


def walk(node: Node) -> Iterator[Node]:
    for c in node.children:
        yield c
        yield from walk(c)


Rule = Callable[[Bundle, Node], Iterator[Finding]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def _at(
    bundle: Bundle, node: Node, severity: Severity, rule_id: str, message: str, **kw: Any
) -> Finding:
    return finding(bundle, severity, rule_id, message, node.file, node.line, **kw)


def _servers(root: Node) -> Iterator[Node]:
    for n in walk(root):
        if n.directive == "server" and n.parent is not None and n.parent.directive != "upstream":
            yield n


def _proxying(server: Node) -> list[Node]:
    return [n for n in [server, *walk(server)] if n.directive == "proxy_pass"]


def _seconds(value: str) -> float | None:
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", value.strip())
    if not m:
        return None
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}[m.group(2)]
    return int(m.group(1)) * scale


@rule
def proxy_connect_timeout(bundle: Bundle, root: Node) -> Iterator[Finding]:
    for server in _servers(root):
        passes = _proxying(server)
        missing = [
            p for p in passes if not p.parent or not p.parent.effective("proxy_connect_timeout")
        ]
        if missing:
            yield _at(
                bundle,
                missing[0],
                Severity.WARNING,
                "nginx.proxy-connect-timeout",
                _("proxy_connect_timeout is not set: nginx waits 60 s for a dead backend"),
                why=_(
                    "With the default, a backend that does not answer SYN holds every request "
                    "for a minute before nginx tries the next server or fails."
                ),
                fix=_("proxy_connect_timeout 5s; (in http or this server)"),
                refs=("proxy_connect_timeout",),
            )


@rule
def client_timeouts(bundle: Bundle, root: Node) -> Iterator[Finding]:
    for http in [n for n in walk(root) if n.directive == "http"] or (
        [root] if root.own("server") else []
    ):
        scopes = [http, *[s for s in http.own("server")]]
        names = ("client_header_timeout", "client_body_timeout", "send_timeout")
        if http.own("server") and not any(s.own(n) for s in scopes for n in names):
            yield _at(
                bundle,
                http if http.line else http.own("server")[0],
                Severity.INFO,
                "nginx.client-timeouts",
                _("client timeouts keep their 60 s defaults"),
                why=_(
                    "Slow clients (or a slowloris attack) hold a connection for up to a minute "
                    "per header or body read."
                ),
                fix=_("client_header_timeout 10s; client_body_timeout 15s; send_timeout 15s;"),
                refs=("client_header_timeout", "client_body_timeout"),
            )


@rule
def client_max_body_size(bundle: Bundle, root: Node) -> Iterator[Finding]:
    for n in walk(root):
        if n.directive == "client_max_body_size" and n.args and n.args[0] == "0":
            yield _at(
                bundle,
                n,
                Severity.WARNING,
                "nginx.client-max-body-size",
                _("client_max_body_size 0 accepts request bodies of any size"),
                why=_("One client can fill the disk with temp files or tie up the backend."),
                fix=_(
                    "Set the largest upload the application needs, e.g. client_max_body_size 50m;"
                ),
                refs=("client_max_body_size",),
            )
    for server in _servers(root):
        passes = _proxying(server)
        if (
            passes
            and server.context() == "http"
            and not server.effective("client_max_body_size")
            and not any(p.parent and p.parent.effective("client_max_body_size") for p in passes)
        ):
            yield _at(
                bundle,
                server,
                Severity.INFO,
                "nginx.client-max-body-size",
                _("client_max_body_size is not set: uploads over 1 MB get 413"),
                why=_(
                    "The default limit is 1m; larger uploads fail with 413 Request Entity Too Large."
                ),
                fix=_("Set client_max_body_size to what the application accepts."),
                refs=("client_max_body_size",),
            )


@rule
def proxy_buffering(bundle: Bundle, root: Node) -> Iterator[Finding]:
    for n in walk(root):
        if n.directive == "proxy_buffering" and n.args[:1] == ["off"]:
            local = n.parent is not None and n.parent.directive == "location"
            yield _at(
                bundle,
                n,
                Severity.INFO if local else Severity.WARNING,
                "nginx.proxy-buffering-off",
                _("proxy_buffering off"),
                why=_(
                    "Without buffering each slow client holds a backend connection for the "
                    "whole response; it is meant for streaming endpoints only (SSE, long polling)."
                ),
                fix=_("Keep buffering on; turn it off only in the streaming location."),
                refs=("proxy_buffering",),
            )


def _tls_servers(root: Node) -> Iterator[Node]:
    for server in _servers(root):
        listens = server.own("listen")
        if any("ssl" in listen.args[1:] for listen in listens) or any(
            s.args[:1] == ["on"] for s in server.own("ssl")
        ):
            yield server


@rule
def tls_protocols(bundle: Bundle, root: Node) -> Iterator[Finding]:
    for server in _tls_servers(root):
        if not server.effective("ssl_protocols"):
            yield _at(
                bundle,
                server,
                Severity.WARNING,
                "nginx.tls-protocols-default",
                _("ssl_protocols is not set: nginx before 1.23.4 also enables TLSv1 and TLSv1.1"),
                why=_(
                    "The default depends on the nginx version; older ones accept broken protocols."
                ),
                fix=_("ssl_protocols TLSv1.2 TLSv1.3;"),
                refs=("ssl_protocols",),
            )


@rule
def listen_443_without_ssl(bundle: Bundle, root: Node) -> Iterator[Finding]:
    for server in _servers(root):
        if not server.own("ssl_certificate") or any(
            s.args[:1] == ["on"] for s in server.own("ssl")
        ):
            continue
        for listen in server.own("listen"):
            if (
                listen.args
                and listen.args[0].rsplit(":", 1)[-1] == "443"
                and "ssl" not in listen.args
            ):
                yield _at(
                    bundle,
                    listen,
                    Severity.ERROR,
                    "nginx.listen-443-without-ssl",
                    _("listen 443 without ssl: this server answers plain HTTP on port 443"),
                    why=_(
                        "A certificate is configured but the listener does not speak TLS; browsers fail."
                    ),
                    fix=_("listen 443 ssl;"),
                    refs=("listen",),
                )


def _headers(nodes: list[Node]) -> dict[str, Node]:
    return {n.args[0].lower(): n for n in nodes if n.args}


@rule
def forwarded_for(bundle: Bundle, root: Node) -> Iterator[Finding]:
    for n in walk(root):
        if (
            n.directive == "proxy_set_header"
            and len(n.args) > 1
            and n.args[0].lower() == "x-forwarded-for"
            and n.args[1] == "$http_x_forwarded_for"
        ):
            yield _at(
                bundle,
                n,
                Severity.WARNING,
                "nginx.xff-passthrough",
                _("X-Forwarded-For is passed on exactly as the client sent it"),
                why=_(
                    "Any client can claim any address; the backend logs, rate-limits or "
                    "allows by a forged IP, and the real address is lost."
                ),
                fix=_("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"),
                refs=("proxy_add_x_forwarded_for", "X-Forwarded-For"),
            )
        if n.directive == "set_real_ip_from" and n.args[:1] in (["0.0.0.0/0"], ["::/0"]):
            yield _at(
                bundle,
                n,
                Severity.ERROR,
                "nginx.realip-trusts-everyone",
                _("set_real_ip_from %(net)s trusts every client's forwarded address")
                % {"net": n.args[0]},
                why=_(
                    "Any client can set $remote_addr to any IP, bypassing allow/deny and limits."
                ),
                fix=_("List only the load balancers' addresses in set_real_ip_from."),
                refs=("set_real_ip_from", "real_ip_header"),
            )
    for server in _servers(root):
        if server.context() != "http":
            continue
        for p in _proxying(server):
            headers = _headers(p.parent.effective("proxy_set_header")) if p.parent else {}
            if (
                "x-forwarded-for" not in headers
                and "x-real-ip" not in headers
                and "forwarded" not in headers
            ):
                yield _at(
                    bundle,
                    p,
                    Severity.INFO,
                    "nginx.xff-missing",
                    _("the backend is not told the client's address (no X-Forwarded-For)"),
                    why=_(
                        "The application logs and rate-limits nginx's address instead of the client's."
                    ),
                    fix=_("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"),
                    refs=("proxy_set_header", "X-Forwarded-For"),
                )
                break


@rule
def proxy_set_header_dropped(bundle: Bundle, root: Node) -> Iterator[Finding]:
    for n in walk(root):
        own = n.own("proxy_set_header")
        if not own or n.directive not in ("location", "server", "if"):
            continue
        parent_set: list[Node] = n.parent.effective("proxy_set_header") if n.parent else []
        dropped = sorted(set(_headers(parent_set)) - set(_headers(own)))
        if dropped:
            yield _at(
                bundle,
                own[0],
                Severity.WARNING,
                "nginx.proxy-set-header-dropped",
                _("proxy_set_header here drops the headers set above: %(names)s")
                % {"names": ", ".join(dropped)},
                why=_(
                    "nginx inherits proxy_set_header only into blocks that set none of their "
                    "own; these headers are not sent from this block."
                ),
                fix=_(
                    "Repeat the parent's proxy_set_header lines here (or keep them in an include)."
                ),
                refs=("proxy_set_header",),
                data={"dropped": dropped},
            )


def _http_version(block: Node) -> str:
    found = block.effective("proxy_http_version")
    return found[-1].args[0] if found and found[-1].args else "1.0"


@rule
def websocket(bundle: Bundle, root: Node) -> Iterator[Finding]:
    for n in walk(root):
        if n.directive != "location" or not n.own("proxy_pass"):
            continue
        headers = _headers(n.effective("proxy_set_header"))
        if "upgrade" not in headers:
            continue
        if _http_version(n) != "1.1":
            yield _at(
                bundle,
                headers["upgrade"],
                Severity.ERROR,
                "nginx.websocket-http10",
                _(
                    "WebSocket upgrade over HTTP/1.0: proxy_http_version 1.1 is missing (needed before nginx 1.29.7)"
                ),
                why=_(
                    "nginx before 1.29.7 talks HTTP/1.0 to the backend by default, which cannot upgrade."
                ),
                fix=_("proxy_http_version 1.1; in this location."),
                refs=("proxy_http_version", "Upgrade"),
            )
        if "connection" not in headers:
            yield _at(
                bundle,
                headers["upgrade"],
                Severity.WARNING,
                "nginx.websocket-connection",
                _("Upgrade is passed without Connection: upgrade"),
                why=_("Connection is a hop-by-hop header; without it the backend sees no upgrade."),
                fix=_('proxy_set_header Connection "upgrade"; (or $connection_upgrade from a map)'),
                refs=("Connection", "Upgrade"),
            )


@rule
def upstream_keepalive(bundle: Bundle, root: Node) -> Iterator[Finding]:
    pooled = {
        u.args[0]: u
        for u in walk(root)
        if u.directive == "upstream" and u.args and u.own("keepalive")
    }
    for p in [n for n in walk(root) if n.directive == "proxy_pass" and n.args]:
        m = re.match(r"https?://([^/:]+)", p.args[0])
        if not m or m.group(1) not in pooled or p.parent is None or p.context() != "http":
            continue
        headers = _headers(p.parent.effective("proxy_set_header"))
        if "upgrade" in headers:
            continue  # a WebSocket location: the connection is upgraded, never pooled
        cleared = "connection" in headers and headers["connection"].args[1:2] in ([""], ['""'])
        if _http_version(p.parent) != "1.1" or not cleared:
            yield _at(
                bundle,
                p,
                Severity.WARNING,
                "nginx.upstream-keepalive-unused",
                _("upstream %(name)s has keepalive, but this location closes every connection")
                % {"name": m.group(1)},
                why=_(
                    "Keepalive to upstreams needs HTTP/1.1 (the default only since nginx 1.29.7) "
                    "and an empty Connection header; otherwise each request opens a new "
                    "connection."
                ),
                fix=_('proxy_http_version 1.1; proxy_set_header Connection "";'),
                refs=("keepalive", "proxy_http_version"),
            )


@rule
def upstream_tls_unverified(bundle: Bundle, root: Node) -> Iterator[Finding]:
    for p in [n for n in walk(root) if n.directive in ("proxy_pass", "grpc_pass") and n.args]:
        if not p.args[0].startswith(("https://", "grpcs://")) or p.parent is None:
            continue
        verify = p.parent.effective(
            "proxy_ssl_verify" if p.directive == "proxy_pass" else "grpc_ssl_verify"
        )
        if not verify or verify[-1].args[:1] != ["on"]:
            yield _at(
                bundle,
                p,
                Severity.INFO,
                "nginx.upstream-tls-unverified",
                _("TLS to the backend is not verified (proxy_ssl_verify is off by default)"),
                why=_("Anyone on the path to the backend can present any certificate."),
                fix=_(
                    "proxy_ssl_verify on; proxy_ssl_trusted_certificate <CA file>; "
                    "proxy_ssl_server_name on;"
                ),
                refs=("proxy_ssl_verify", "proxy_ssl_trusted_certificate"),
            )


@rule
def autoindex(bundle: Bundle, root: Node) -> Iterator[Finding]:
    for n in walk(root):
        if n.directive == "autoindex" and n.args[:1] == ["on"]:
            yield _at(
                bundle,
                n,
                Severity.WARNING,
                "nginx.autoindex",
                _("autoindex on lists directory contents"),
                why=_("Backups, dumps and forgotten files become visible to anyone."),
                fix=_("autoindex off; unless the directory is meant to be browsed."),
                refs=("autoindex",),
            )


def run(bundle: Bundle, root: Node) -> list[Finding]:
    out: list[Finding] = []
    for fn in RULES:
        out.extend(fn(bundle, root))
    return out
