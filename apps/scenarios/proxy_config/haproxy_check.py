"""`haproxy -c` on a safe copy of the bundle, its messages turned into findings.

Before the tool runs, `lua-load` (code run at parse time) and files outside the upload that
HAProxy would read as config (SPOE configs) are refused with the line; certificates, CA
files, CRLs, DH parameters, error pages and ACL/map pattern files named by absolute paths
point at stand-ins in the temporary directory; hostnames point at 127.0.0.1 (the check has
no network). Every rewrite stays on its line, so the tool's `[file:line]` is the user's.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from apps.scenarios.engine import runner
from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.proxy_config import standins
from apps.scenarios.proxy_config.bundle import Bundle, finding
from apps.scenarios.proxy_config.haproxy_parse import ParseError, Section, parse
from apps.scenarios.proxy_config.nginx_lex import replace

REFUSED = {"lua-load", "lua-load-per-thread", "lua-prepend-path", "ssl-engine"}
CERT_WORDS = {"crt": standins.PEM, "ca-file": standins.CERT, "ca-verify-file": standins.CERT}
CERT_WORDS |= {"crl-file": standins.CRL, "ca-sign-file": standins.PEM}
GLOBAL_FILES = {"ssl-dh-param-file": standins.DH, "issuers-chain-path": "."}
# Where each keyword's address is, among its words.
ADDRESS_AT = {"server": 2, "server-template": 3, "peer": 2, "nameserver": 2, "mailer": 2}
ADDRESS_AT |= {"log": 1, "bind": 1}
LOG_TARGETS = {"global", "stdout", "stderr", ""}
_HOSTNAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_MAP_FILE = re.compile(r"((?:map(?:_\w+)?|set-map|del-map|add-acl|del-acl)\()([^,)]+)")
_ADDR_PREFIX = re.compile(r"^(ipv4@|ipv6@|tcp@|tcp4@|tcp6@|udp@|udp4@|udp6@)")


@dataclass
class Prepared:
    sections: dict[str, list[Section]]
    tool_files: dict[str, str | bytes]
    order: list[str]
    mapped_hosts: list[tuple[str, str, int]] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)


def _refuse(bundle: Bundle, name: str, line: int, message: str) -> InputError:
    where = f"{name}: " if bundle.multi else ""
    return InputError(where + message, line=bundle.input_line(name, line), field="text")


def _is_name(host: str) -> bool:
    if not host or "$" in host or host in ("localhost", "*"):
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
        return False
    except ValueError:
        return bool(_HOSTNAME.match(host)) and not host.isdigit()


def _map_address(value: str) -> tuple[str, str] | None:
    """(new address, hostname) for 'name:port' style addresses."""
    m = _ADDR_PREFIX.match(value)
    prefix = m.group(1) if m else ""
    rest = value[len(prefix) :]
    if "@" in rest or rest.startswith("/"):
        return None  # unix@, abns@, fd@, a socket path
    host, sep, port = rest.rpartition(":")
    if not sep:
        host, port = rest, ""
    if not _is_name(host):
        return None
    return prefix + "127.0.0.1" + (sep + port if sep else ""), host


def _bundle_path(bundle: Bundle, path: str) -> str | None:
    """The bundle file a path names (relative, or under the config directory)."""
    rel = path
    root = bundle.root.rstrip("/") + "/"
    if path.startswith(root):
        rel = path[len(root) :]
    elif path.startswith("/"):
        return None
    rel = posixpath.normpath(rel)
    return rel if rel in bundle.files else None


def prepare(bundle: Bundle) -> Prepared:
    sections: dict[str, list[Section]] = {}
    for name, text in bundle.files.items():
        try:
            sections[name] = parse(text, name)
        except ParseError as exc:
            raise _refuse(bundle, name, exc.line, exc.message) from None
    order = [bundle.main, *sorted(n for n in bundle.files if n != bundle.main)]
    prep = Prepared(sections, {}, order)
    pattern_files: dict[str, str] = {}  # original path -> stand-in, the same file every time

    def pattern_file(path: str) -> str:
        inside = _bundle_path(bundle, path)
        if inside is not None:
            return inside
        return pattern_files.setdefault(path, f"opsdesk-pattern-{len(pattern_files) + 1}.lst")

    for name in order:
        edits: dict[tuple[int, int], str] = {}
        for section in sections[name]:
            lines = ([section.header] if section.header else []) + section.lines
            for ln in lines:
                ws, head = ln.words, ln.words[0].value
                if head in REFUSED:
                    raise _refuse(
                        bundle,
                        name,
                        ln.number,
                        _(
                            "%(keyword)s runs code while HAProxy reads its config; it is not run by the check: remove the line"
                        )
                        % {"keyword": head},
                    )
                if head == "filter" and "config" in ln.values:
                    path = ln.after("config") or ""
                    inside = _bundle_path(bundle, path)
                    if inside is None:
                        raise _refuse(
                            bundle,
                            name,
                            ln.number,
                            _(
                                "filter config %(path)s is not in the upload; add the file to the bundle"
                            )
                            % {"path": path},
                        )
                for i, w in enumerate(ws):
                    prev = ws[i - 1].value if i else ""
                    if prev in CERT_WORDS and i > 1:
                        edits[(w.start, w.end)] = CERT_WORDS[prev]
                    elif prev == "crt-list" and i > 1:
                        edits[(w.start, w.end)] = "opsdesk-standin.crtlist"
                    elif prev == "-f" and i > 1:  # acl … -f FILE: patterns read at start-up
                        edits[(w.start, w.end)] = pattern_file(w.value)
                    elif _MAP_FILE.search(w.value) and "(" in w.value:
                        new = _MAP_FILE.sub(
                            lambda m: m.group(1) + pattern_file(m.group(2)), w.value
                        )
                        if new != w.value:
                            edits[(w.start, w.end)] = new
                    elif prev in ("file", "lf-file") and head in (
                        "http-request",
                        "http-response",
                        "http-error",
                    ):
                        edits[(w.start, w.end)] = standins.EMPTY
                if head in GLOBAL_FILES and len(ws) > 1:
                    edits[(ws[1].start, ws[1].end)] = GLOBAL_FILES[head]
                elif head in ("crt-base", "ca-base") and len(ws) > 1:
                    edits[(ws[1].start, ws[1].end)] = "."
                elif head in ("user", "group") and section.kind == "global" and len(ws) > 1:
                    # resolved with getpwnam at parse time: the portal's host has other users
                    edits[(ws[1].start, ws[1].end)] = "nobody" if head == "user" else "nogroup"
                elif head == "errorfile" and len(ws) > 2:
                    code = ws[1].value
                    target = f"opsdesk-error-{code}.http"
                    inside = _bundle_path(bundle, ws[2].value)
                    edits[(ws[2].start, ws[2].end)] = inside or target
                    if not inside:
                        prep.tool_files[target] = standins.errorfile(code)
                elif head in ADDRESS_AT:
                    idx = ADDRESS_AT[head]
                    value = ws[idx].value if len(ws) > idx else ""
                    mapped = None if value in LOG_TARGETS else _map_address(value)
                    if mapped:
                        edits[(ws[idx].start, ws[idx].end)] = mapped[0]
                        prep.mapped_hosts.append((mapped[1], name, ln.number))
        prep.tool_files[name] = replace(bundle.files[name], edits)
    for standin in pattern_files.values():
        prep.tool_files[standin] = ""
    prep.tool_files["opsdesk-standin.crtlist"] = standins.PEM + "\n"
    prep.tool_files.update(standins.files())
    if prep.mapped_hosts:
        first = prep.mapped_hosts[0]
        hosts = sorted({h for h, _n, _l in prep.mapped_hosts})
        prep.notes.append(
            finding(
                bundle,
                Severity.INFO,
                "haproxy.hosts-not-resolved",
                _("hostnames checked as 127.0.0.1 (the check runs without network): %(hosts)s")
                % {"hosts": ", ".join(hosts[:10])},
                first[1],
                first[2],
                why=_(
                    "HAProxy resolves server names at start-up unless init-addr says otherwise; "
                    "a name DNS does not know stops it from starting."
                ),
                fix=_(
                    "Make sure each name resolves on the server, or add init-addr last,libc,none."
                ),
                data={"hosts": hosts},
            )
        )
    return prep


def run_tool(prep: Prepared) -> runner.ToolResult:
    argv = ["haproxy", "-c"]
    for name in prep.order:
        argv += ["-f", name]
    return runner.run(argv, prep.tool_files, timeout=15.0)


_MESSAGE = re.compile(r"^\[(?P<level>ALERT|WARNING|NOTICE)\]\s+(?:\(\d+\)\s*)?:\s*(?P<msg>.*)$")
_LOCATION = re.compile(r"\[(?P<file>[^\[\]:]+):(?P<line>\d+)\]")
_PROXY = re.compile(r"(?:frontend|backend|listen|proxy) '([^']+)'", re.I)
_REFERENCE = re.compile(r"(use_backend|default_backend|use-server)\b[^']*'([^']+)'")
_SKIP = (
    "haproxy version is",
    "path to executable is",
    "Error(s) found in configuration file",
    "Fatal errors found in configuration",
    "Configuration file is valid",
)


_LONG_LIST = re.compile(r"expects ((?:'[^']*', ){6,})(?:but got|or)")


def _shorten(m: re.Match[str]) -> str:
    """HAProxy lists every keyword it would accept; keep the first few."""
    items = m.group(1).split(", ")
    return (
        f"expects {', '.join(items[:5])}, … ({len(items) - 1} in all), "
        + m.group(0).rsplit(" ", 2)[-2]
        + " "
        + m.group(0).rsplit(" ", 1)[-1]
    )


def _explain(msg: str) -> tuple[str, str, str]:
    """(rule, why, fix) for the HAProxy messages a reviewer meets most."""
    if "missing timeouts" in msg:
        return (
            "haproxy.missing-timeouts",
            _(
                "Without client, connect and server timeouts dead connections pile up until maxconn is reached."
            ),
            _("In defaults: timeout connect 5s, timeout client 30s, timeout server 30s."),
        )
    if "unknown keyword" in msg or "expects" in msg:
        return (
            "haproxy.check",
            _("HAProxy does not accept this line and refuses to start."),
            _("Check the keyword's spelling and the section it is in."),
        )
    if "unable to find required" in msg or "unable to find" in msg:
        return (
            "haproxy.check",
            _("A backend or section this line refers to is not defined."),
            _("Define it, or fix the name."),
        )
    return (
        "haproxy.check",
        _("HAProxy refuses to start (or reload) with this config; a reload keeps the old one."),
        _("Fix the line the message names and run the check again."),
    )


def _section_line(prep: Prepared, proxy: str, msg: str) -> tuple[str, int | None]:
    """The line a message about proxy `proxy` is about: the line it names (a use_backend to
    a missing backend), else the section's header."""
    ref = _REFERENCE.search(msg)
    for name in prep.order:
        for s in prep.sections[name]:
            if s.name != proxy or s.kind not in ("frontend", "backend", "listen", "defaults"):
                continue
            for ln in s.lines:
                if ref and ln.keyword == ref.group(1) and ref.group(2) in ln.values[1:2]:
                    return name, ln.number
            return name, s.line
    return prep.order[0], None


def no_listener(result: runner.ToolResult) -> bool:
    """haproxy -c exits 2 for a valid config without any listener (a conf.d fragment)."""
    return (
        result.returncode == 2 and "will not start (no listener)" in result.stdout + result.stderr
    )


def tool_findings(bundle: Bundle, prep: Prepared, result: runner.ToolResult) -> list[Finding]:
    if result.timed_out:
        return [
            finding(
                bundle,
                Severity.ERROR,
                "haproxy.check",
                _("haproxy -c did not finish in time"),
                bundle.main,
                None,
            )
        ]
    out: list[Finding] = []
    messages: list[tuple[str, str]] = []
    for raw in result.clean(result.stderr + "\n" + result.stdout).splitlines():
        m = _MESSAGE.match(raw.strip())
        if m:
            messages.append((m.group("level"), m.group("msg").strip()))
        elif raw.strip().startswith("|") and messages:
            level, msg = messages[-1]
            messages[-1] = (level, msg + " " + raw.strip().lstrip("| ").strip())
    for level, msg in messages:
        if level == "NOTICE" or any(s in msg for s in _SKIP):
            continue
        msg = _LONG_LIST.sub(_shorten, msg.removeprefix("config :").strip())
        loc = _LOCATION.search(msg)
        name, line = (loc.group("file"), int(loc.group("line"))) if loc else (bundle.main, None)
        if loc is None and (proxy := _PROXY.search(msg)):
            name, line = _section_line(prep, proxy.group(1), msg)
        if name.startswith("./"):
            name = name[2:]
        if name not in bundle.files:
            name, line = bundle.main, None
        rule, why, fix = _explain(msg)
        out.append(
            finding(
                bundle,
                Severity.ERROR if level == "ALERT" else Severity.WARNING,
                rule,
                f"[{level}] {msg}",
                name,
                line,
                why=why,
                fix=fix,
                data={"tool": "haproxy -c", "level": level},
            )
        )
    if no_listener(result):
        out.append(
            finding(
                bundle,
                Severity.INFO,
                "haproxy.no-listener",
                _("HAProxy finds no error but would not start: nothing listens (no bind)"),
                bundle.main,
                None,
                why=_(
                    "Fine for a fragment of a larger config; a full config needs a frontend with bind."
                ),
                data={"tool": "haproxy -c"},
            )
        )
    elif not result.ok and not any(f.severity.blocking for f in out):
        text = result.clean(result.stderr + result.stdout).strip()[-500:] or _("no output")
        out.append(
            finding(
                bundle,
                Severity.ERROR,
                "haproxy.check",
                _("haproxy -c failed: %(text)s") % {"text": text},
                bundle.main,
                None,
                data={"tool": "haproxy -c"},
            )
        )
    return out
