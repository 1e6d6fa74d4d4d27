"""Reliability and security rules for HAProxy: timeouts, health checks, maxconn, TLS,
X-Forwarded-For, the stats page, stickiness. A proxy section inherits from the `defaults`
section before it (or the one it names with `from`), as HAProxy reads it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.proxy_config.bundle import Bundle, finding
from apps.scenarios.proxy_config.haproxy_parse import Line, Section


@dataclass(eq=False)
class Proxy:
    section: Section
    defaults: Section | None

    @property
    def kind(self) -> str:
        return self.section.kind

    def get(self, keyword: str) -> list[Line]:
        own = self.section.get(keyword)
        if own or self.defaults is None:
            return own
        return self.defaults.get(keyword)

    def value(self, keyword: str) -> Line | None:
        found = self.get(keyword)
        return found[-1] if found else None

    @property
    def mode(self) -> str:
        line = self.value("mode")
        return line.values[1] if line and len(line.values) > 1 else "tcp"

    def option(self, name: str) -> Line | None:
        """`option NAME` in effect (a `no option NAME` in the section turns it off)."""
        if self.section.get(f"no option {name}"):
            return None
        return self.value(f"option {name}")


@dataclass
class Config:
    sections: list[Section]
    proxies: list[Proxy]

    @property
    def global_(self) -> list[Section]:
        return [s for s in self.sections if s.kind == "global"]

    def global_line(self, keyword: str) -> Line | None:
        for s in reversed(self.global_):
            if (line := s.first(keyword)) is not None:
                return line
        return None


def build(ordered: list[Section]) -> Config:
    proxies = []
    last: Section | None = None
    named = {s.name: s for s in ordered if s.kind == "defaults" and s.name}
    for s in ordered:
        if s.kind == "defaults":
            last = s
        elif s.kind in ("frontend", "backend", "listen"):
            header = s.header.values if s.header else []
            parent = named.get(header[header.index("from") + 1]) if "from" in header[:-1] else last
            proxies.append(Proxy(s, parent))
    return Config(ordered, proxies)


Rule = Callable[[Bundle, Config], Iterator[Finding]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def at(
    bundle: Bundle,
    section: Section,
    line: Line | None,
    severity: Severity,
    rule_id: str,
    message: str,
    **kw: Any,
) -> Finding:
    return finding(
        bundle,
        severity,
        rule_id,
        message,
        section.file,
        line.number if line else section.line,
        **kw,
    )


@rule
def timeouts(bundle: Bundle, cfg: Config) -> Iterator[Finding]:
    need = {
        "frontend": ("client",),
        "backend": ("connect", "server"),
        "listen": ("client", "connect", "server"),
    }
    for p in cfg.proxies:
        missing = [t for t in need[p.kind] if not p.value(f"timeout {t}")]
        if missing:
            yield at(
                bundle,
                p.section,
                None,
                Severity.WARNING,
                "haproxy.missing-timeouts",
                _("%(proxy)s has no timeout %(names)s")
                % {"proxy": p.section.label, "names": ", ".join(missing)},
                why=_(
                    "Without client, connect and server timeouts dead connections pile up until maxconn is reached."
                ),
                fix=_("In defaults: timeout connect 5s, timeout client 30s, timeout server 30s."),
                refs=tuple(f"timeout {t}" for t in missing),
            )
        if (
            p.kind in ("frontend", "listen")
            and p.mode == "http"
            and not p.value("timeout http-request")
        ):
            yield at(
                bundle,
                p.section,
                None,
                Severity.INFO,
                "haproxy.timeout-http-request",
                _("%(proxy)s has no timeout http-request") % {"proxy": p.section.label},
                why=_(
                    "A client may send its headers byte by byte for the whole client timeout (slowloris)."
                ),
                fix=_("timeout http-request 10s"),
                refs=("timeout http-request",),
            )


def _servers(p: Proxy) -> list[Line]:
    return p.section.get("server") + p.section.get("server-template")


@rule
def health_checks(bundle: Bundle, cfg: Config) -> Iterator[Finding]:
    for p in cfg.proxies:
        servers = _servers(p)
        if not servers or p.kind == "frontend":
            continue
        default_check = any(ln.has("check") for ln in p.get("default-server"))
        unchecked = [s for s in servers if not s.has("check") and not default_check]
        if unchecked:
            yield at(
                bundle,
                p.section,
                unchecked[0],
                Severity.WARNING if len(servers) > 1 else Severity.INFO,
                "haproxy.no-health-check",
                _("server %(name)s has no health check")
                % {"name": unchecked[0].values[1] if len(unchecked[0].values) > 1 else "?"},
                why=_("Without check, HAProxy keeps sending requests to a server that is down."),
                fix=_(
                    "Add check to the server lines (or default-server check inter 2s fall 3 rise 2)."
                ),
                refs=("check", "option httpchk"),
                data={"servers": [s.values[1] for s in unchecked if len(s.values) > 1]},
            )
        elif (
            p.mode == "http"
            and not p.option("httpchk")
            and not p.get("http-check send")
            and len(servers) > 1
        ):
            yield at(
                bundle,
                p.section,
                None,
                Severity.INFO,
                "haproxy.tcp-check-only",
                _("%(proxy)s checks only that the port accepts connections")
                % {"proxy": p.section.label},
                why=_(
                    "An application that answers 500 or hangs still passes a TCP check and keeps traffic."
                ),
                fix=_("option httpchk GET /health (with http-check expect status 200)"),
                refs=("option httpchk",),
            )


@rule
def maxconn(bundle: Bundle, cfg: Config) -> Iterator[Finding]:
    limit = cfg.global_line("maxconn")
    if cfg.global_ and limit is None:
        g = cfg.global_[0]
        yield at(
            bundle,
            g,
            None,
            Severity.WARNING,
            "haproxy.no-global-maxconn",
            _("global has no maxconn"),
            why=_(
                "The limit is then derived from the file-descriptor limit of the host; a burst "
                "can exhaust memory, or connections are refused at an unknown low number."
            ),
            fix=_("Set maxconn in global to what the host can carry (e.g. maxconn 20000)."),
            refs=("maxconn",),
        )
    if limit is None or not limit.values[1:2] or not limit.values[1].isdigit():
        return
    for p in cfg.proxies:
        own = p.value("maxconn")
        if (
            own is not None
            and own.values[1:2]
            and own.values[1].isdigit()
            and int(own.values[1]) > int(limit.values[1])
        ):
            yield at(
                bundle,
                p.section,
                own,
                Severity.WARNING,
                "haproxy.maxconn-above-global",
                _("maxconn %(proxy)s is above the global maxconn %(global)s")
                % {"proxy": own.values[1], "global": limit.values[1]},
                why=_("The process limit is reached first; the frontend limit never applies."),
                fix=_("Keep frontend maxconn below global maxconn."),
                refs=("maxconn",),
            )


@rule
def stickiness(bundle: Bundle, cfg: Config) -> Iterator[Finding]:
    for p in cfg.proxies:
        cookie = p.section.first("cookie")
        if cookie is None or p.kind == "frontend":
            continue
        servers = _servers(p)
        without = [s for s in servers if s.after("cookie") is None]
        if without:
            yield at(
                bundle,
                p.section,
                without[0],
                Severity.WARNING,
                "haproxy.cookie-without-server-value",
                _("cookie %(name)s is set up but server %(server)s has no cookie value")
                % {
                    "name": cookie.values[1] if len(cookie.values) > 1 else "",
                    "server": without[0].values[1] if len(without[0].values) > 1 else "?",
                },
                why=_(
                    "Clients of this server get no sticky cookie, so their sessions move between servers."
                ),
                fix=_("Give every server line a cookie value: server app1 … cookie app1"),
                refs=("cookie",),
            )
        if not p.option("redispatch"):
            yield at(
                bundle,
                p.section,
                cookie,
                Severity.INFO,
                "haproxy.no-redispatch",
                _("sticky sessions without option redispatch"),
                why=_(
                    "When a client's server is down, its requests fail instead of going to another server."
                ),
                fix=_("option redispatch (with retries 3)"),
                refs=("option redispatch",),
            )


@rule
def routing(bundle: Bundle, cfg: Config) -> Iterator[Finding]:
    used: set[str] = set()
    dynamic = False
    for p in cfg.proxies:
        for ln in p.section.get("default_backend") + p.section.get("use_backend"):
            if len(ln.values) > 1:
                used.add(ln.values[1])
                dynamic = dynamic or "%[" in ln.values[1]
        if p.defaults:
            for ln in p.defaults.get("default_backend"):
                used.update(ln.values[1:2])
        if (
            p.kind == "frontend"
            and not p.get("default_backend")
            and not p.section.get("use_backend")
            and not p.section.get("http-request")
            and not p.section.get("tcp-request")
        ):
            yield at(
                bundle,
                p.section,
                None,
                Severity.WARNING,
                "haproxy.frontend-without-backend",
                _("%(proxy)s sends traffic nowhere (no default_backend or use_backend)")
                % {"proxy": p.section.label},
                why=_("Every request gets 503."),
                fix=_("default_backend <name>"),
                refs=("default_backend",),
            )
    if dynamic:
        return
    for p in cfg.proxies:
        if p.kind == "backend" and p.section.name not in used:
            yield at(
                bundle,
                p.section,
                None,
                Severity.INFO,
                "haproxy.unused-backend",
                _("%(proxy)s is not used by any frontend") % {"proxy": p.section.label},
                why=_(
                    "Unused sections hide mistakes (a typo in use_backend) and confuse the next reader."
                ),
                fix=_("Route to it, or remove it."),
                refs=("use_backend",),
            )


@rule
def logging(bundle: Bundle, cfg: Config) -> Iterator[Finding]:
    has_log = any(s.get("log") for s in cfg.sections)
    if not has_log and cfg.proxies:
        anchor = cfg.global_[0] if cfg.global_ else cfg.proxies[0].section
        yield at(
            bundle,
            anchor,
            None,
            Severity.INFO,
            "haproxy.no-log",
            _("nothing is logged (no log line)"),
            why=_("Without logs there is no trace of errors, timeouts or who was refused."),
            fix=_("log /dev/log local0 in global, log global and option httplog in defaults"),
            refs=("log", "option httplog"),
        )


def run(bundle: Bundle, cfg: Config) -> list[Finding]:
    out: list[Finding] = []
    for fn in RULES:
        out.extend(fn(bundle, cfg))
    return out
