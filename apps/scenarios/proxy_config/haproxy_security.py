"""Security rules for HAProxy: TLS versions and ciphers, backend certificate checks,
X-Forwarded-For handling and the stats page and socket."""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.utils.translation import gettext as _

from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.proxy_config.bundle import Bundle
from apps.scenarios.proxy_config.haproxy_parse import Line, Section
from apps.scenarios.proxy_config.haproxy_rules import Config, Proxy, at, rule

WEAK_CIPHERS = re.compile(
    r"(?<![!\-+\w])(RC4|DES|3DES|MD5|NULL|EXPORT|EXP|aNULL|eNULL|ADH|AECDH)(?![\w])"
)
OLD_TLS = {"TLSv1.0", "SSLv3", "TLSv1.1"}
OLD_TLS_FLAGS = {"force-sslv3", "force-tlsv10", "force-tlsv11"}
WEAK_PASSWORDS = {"admin", "password", "haproxy", "stats", "123456", "changeme", "secret"}
LOCAL = ("127.", "localhost", "[::1]", "::1", "unix@", "/", "abns@")


def _tls_lines(cfg: Config) -> Iterator[tuple[Section, Line]]:
    for s in cfg.sections:
        for ln in s.lines:
            yield s, ln


@rule
def tls(bundle: Bundle, cfg: Config) -> Iterator[Finding]:
    for s, ln in _tls_lines(cfg):
        v = ln.values
        old = [w for w in v if w in OLD_TLS_FLAGS]
        minver = ln.after("ssl-min-ver")
        if minver in OLD_TLS:
            old.append(f"ssl-min-ver {minver}")
        if old:
            yield at(
                bundle,
                s,
                ln,
                Severity.ERROR,
                "haproxy.tls-old-protocols",
                _("TLS versions older than 1.2 are allowed: %(what)s") % {"what": ", ".join(old)},
                why=_(
                    "TLS 1.0/1.1 and SSLv3 are broken (POODLE, BEAST) and refused by current clients' policies."
                ),
                fix=_("ssl-default-bind-options ssl-min-ver TLSv1.2 (and drop force-tls* options)"),
                refs=("ssl-min-ver", "ssl-default-bind-options"),
            )
        cipher_args = []
        if v[0] in ("ssl-default-bind-ciphers", "ssl-default-server-ciphers") and len(v) > 1:
            cipher_args.append(v[1])
        if v[0] in ("bind", "server", "default-server") and ln.after("ciphers"):
            cipher_args.append(ln.after("ciphers") or "")
        for arg in cipher_args:
            weak = sorted(set(WEAK_CIPHERS.findall(arg)))
            if weak:
                yield at(
                    bundle,
                    s,
                    ln,
                    Severity.ERROR,
                    "haproxy.tls-weak-ciphers",
                    _("weak ciphers are allowed: %(names)s") % {"names": ", ".join(weak)},
                    why=_("These ciphers can be broken or give no authentication."),
                    fix=_(
                        "Use a current list, e.g. Mozilla's intermediate profile, and exclude !aNULL !MD5 !RC4 !3DES."
                    ),
                    refs=("ssl-default-bind-ciphers",),
                )
        if v[0] in ("server", "default-server") and ln.has("ssl") and ln.after("verify") == "none":
            yield at(
                bundle,
                s,
                ln,
                Severity.WARNING,
                "haproxy.server-verify-none",
                _("TLS to the server is not verified (verify none)"),
                why=_(
                    "Anyone on the path can impersonate the backend; the encryption protects nothing."
                ),
                fix=_(
                    "verify required ca-file /etc/ssl/certs/ca-certificates.crt (and sni/verifyhost)"
                ),
                refs=("verify",),
            )
        if v[0] == "ssl-server-verify" and v[1:2] == ["none"]:
            yield at(
                bundle,
                s,
                ln,
                Severity.WARNING,
                "haproxy.server-verify-none",
                _("ssl-server-verify none turns off verification of every backend certificate"),
                why=_("Anyone on the path can impersonate the backends."),
                fix=_("Remove ssl-server-verify none and give the servers a ca-file."),
                refs=("ssl-server-verify",),
            )


def _sets_xff(p: Proxy) -> bool:
    for ln in p.section.get("http-request"):
        if (
            len(ln.values) > 2
            and ln.values[1] in ("set-header", "add-header")
            and ln.values[2].lower() in ("x-forwarded-for", "forwarded")
        ):
            return True
    return bool(p.section.get("option forwarded"))


@rule
def forwarded_for(bundle: Bundle, cfg: Config) -> Iterator[Finding]:
    backends = [p for p in cfg.proxies if p.kind in ("backend", "listen") and p.mode == "http"]
    for p in [p for p in cfg.proxies if p.mode == "http"]:
        opt = p.option("forwardfor")
        if opt is not None and "if-none" in opt.values:
            yield at(
                bundle,
                p.section if opt in p.section.lines else p.defaults or p.section,
                opt,
                Severity.WARNING,
                "haproxy.xff-if-none",
                _("option forwardfor if-none keeps an X-Forwarded-For the client sent"),
                why=_("Any client can claim any address; the backend trusts a forged IP."),
                fix=_(
                    "option forwardfor (without if-none), and http-request del-header X-Forwarded-For in the frontend"
                ),
                refs=("option forwardfor",),
            )
    missing = [p for p in backends if p.option("forwardfor") is None and not _sets_xff(p)]
    fronts = [p for p in cfg.proxies if p.kind == "frontend" and p.mode == "http"]
    if missing and not any(p.option("forwardfor") or _sets_xff(p) for p in fronts):
        p = missing[0]
        yield at(
            bundle,
            p.section,
            None,
            Severity.INFO,
            "haproxy.xff-missing",
            _("%(proxy)s does not tell the servers the client's address (no option forwardfor)")
            % {"proxy": p.section.label},
            why=_(
                "The application logs and rate-limits HAProxy's address instead of the client's."
            ),
            fix=_("option forwardfor in defaults (mode http)"),
            refs=("option forwardfor", "X-Forwarded-For"),
        )


def _public(p: Proxy) -> bool:
    binds = p.section.get("bind")
    return any(not (b.values[1:2] and b.values[1].startswith(LOCAL)) for b in binds)


@rule
def stats(bundle: Bundle, cfg: Config) -> Iterator[Finding]:
    for p in cfg.proxies:
        enabled = p.section.get("stats enable") + p.section.get("stats uri")
        if enabled and p.kind in ("frontend", "listen") and _public(p):
            auth = p.section.get("stats auth")
            restricted = p.section.get("stats http-request") or any(
                "auth" in ln.values or "deny" in ln.values for ln in p.section.get("http-request")
            )
            if not auth and not restricted:
                yield at(
                    bundle,
                    p.section,
                    enabled[0],
                    Severity.ERROR,
                    "haproxy.stats-exposed",
                    _("the stats page of %(proxy)s is open to anyone who reaches it")
                    % {"proxy": p.section.label},
                    why=_(
                        "It shows every backend, server address and health, and may allow disabling servers."
                    ),
                    fix=_(
                        "Bind it to an internal address, and add stats auth with a strong password or an ACL."
                    ),
                    refs=("stats enable", "stats auth"),
                )
            for ln in auth:
                user, _sep, password = (ln.values[2] if len(ln.values) > 2 else "").partition(":")
                if password.lower() in WEAK_PASSWORDS or password == user:
                    yield at(
                        bundle,
                        p.section,
                        ln,
                        Severity.ERROR,
                        "haproxy.stats-weak-password",
                        _("the stats page uses a default or guessable password"),
                        why=_(
                            "Default credentials are the first thing tried against an exposed stats page."
                        ),
                        fix=_(
                            'Use a long random password (and keep it out of the config, e.g. "${STATS_PASSWORD}").'
                        ),
                        refs=("stats auth",),
                    )
        for ln in p.section.get("stats admin"):
            if ln.values[2:] in (["if", "TRUE"], ["if", "always_true"]):
                yield at(
                    bundle,
                    p.section,
                    ln,
                    Severity.ERROR,
                    "haproxy.stats-admin",
                    _("stats admin if TRUE lets every visitor of the stats page disable servers"),
                    why=_("Admin mode changes server states; it must be limited to trusted users."),
                    fix=_("stats admin if { src 10.0.0.0/8 } (or an authenticated ACL)"),
                    refs=("stats admin",),
                )
    for g in cfg.global_:
        for ln in g.get("stats socket"):
            mode = ln.after("mode")
            addr = ln.values[2] if len(ln.values) > 2 else ""
            tcp = bool(re.match(r"^(ipv4@|ipv6@)?[\d.:*\[\]]+:\d+$", addr)) and not addr.startswith(
                ("127.", "ipv4@127.")
            )
            if (mode and mode.endswith(("6", "7")) and len(mode) == 3 or tcp) and ln.after(
                "level"
            ) == "admin":
                yield at(
                    bundle,
                    g,
                    ln,
                    Severity.ERROR,
                    "haproxy.stats-socket-exposed",
                    _("the admin socket is open to every local user or the network"),
                    why=_("Level admin can change weights, disable servers and dump sessions."),
                    fix=_(
                        "stats socket /run/haproxy/admin.sock mode 660 level admin (group haproxy only)"
                    ),
                    refs=("stats socket",),
                )
