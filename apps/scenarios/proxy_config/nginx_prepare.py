"""Make an nginx bundle safe to hand to `nginx -t` and gixy, or refuse it.

Before any tool runs:
- every file is tokenized (unbalanced braces, a quote left open, nesting deeper than 32
  levels are errors naming the line);
- `include` may name only files of the bundle: a relative path, or a path under the config
  directory the bundle stands for (/etc/nginx/conf.d/*.conf when nginx.conf and conf.d/ were
  uploaded); anything else (`include /etc/shadow;`, `../`) is refused, as are `load_module`
  and `ssl_engine`, which load code;
- the copy the tools see has certificates, keys, logs, the pid file and temp paths pointed
  at stand-ins in the temporary directory and hostnames pointed at loopback (the check runs
  without network), each rewritten in place so every line keeps its number.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.proxy_config import nginx_lex as lex
from apps.scenarios.proxy_config import standins
from apps.scenarios.proxy_config.bundle import Bundle, finding

WRAPPER = "opsdesk-check.conf"
STOCK_DIR = Path("/etc/nginx")
# Files every nginx package ships; a config that includes them is checked against the
# portal's own packaged copies when the bundle does not carry them.
STOCK = (
    "mime.types",
    "fastcgi_params",
    "fastcgi.conf",
    "proxy_params",
    "scgi_params",
    "uwsgi_params",
    "koi-utf",
    "koi-win",
    "win-utf",
    "snippets/fastcgi-php.conf",
)
CODE_LOADERS = {"load_module", "ssl_engine", "perl_modules", "perl_require", "js_import"}
MAIN_ONLY = {"events", "http", "stream", "mail"}
SERVER_LEVEL = {"location", "listen", "server_name", "root", "index", "return", "try_files"}
CERTS = {f"{p}ssl_certificate" for p in ("", "proxy_", "grpc_", "uwsgi_")}
KEYS = {f"{p}ssl_certificate_key" for p in ("", "proxy_", "grpc_", "uwsgi_")}
CAS = {
    "ssl_trusted_certificate",
    "ssl_client_certificate",
    *(f"{p}ssl_trusted_certificate" for p in ("proxy_", "grpc_", "uwsgi_")),
}
CRLS = {f"{p}ssl_crl" for p in ("", "proxy_", "grpc_", "uwsgi_")}
PASSWORDS = {f"{p}ssl_password_file" for p in ("", "proxy_", "grpc_", "uwsgi_")}
TEMP_PATHS = (
    "client_body_temp_path",
    "proxy_temp_path",
    "fastcgi_temp_path",
    "uwsgi_temp_path",
    "scgi_temp_path",
)
CACHE_PATHS = {"proxy_cache_path", "fastcgi_cache_path", "scgi_cache_path", "uwsgi_cache_path"}
PASSES = {"proxy_pass", "grpc_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "memcached_pass"}
FIRST_PORT = 20000
_HOSTNAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


@dataclass
class Prepared:
    """The bundle as crossplane reads it (A) and as the tools run it (B)."""

    main: str
    parse_files: dict[str, str]
    tool_files: dict[str, str | bytes]
    trees: dict[str, list[lex.Stmt]]
    context: str  # main, http, server or stream: where the submitted main file sits
    needs_stream: bool = False
    has_pid: bool = False
    included: set[str] = field(default_factory=set)
    mapped_hosts: list[tuple[str, str, int]] = field(default_factory=list)
    listens: dict[str, str] = field(default_factory=dict)  # listen address -> sandbox one
    notes: list[Finding] = field(default_factory=list)


def _refuse(bundle: Bundle, name: str, line: int, message: str) -> InputError:
    where = f"{name}: " if bundle.multi else ""
    return InputError(where + message, line=bundle.input_line(name, line), field="text")


def _match(pattern: str, names: list[str]) -> list[str]:
    """glob(3) semantics: '*' stays within one path segment; nginx sorts the matches."""
    parts = pattern.split("/")
    return sorted(
        n
        for n in names
        if len(n.split("/")) == len(parts)
        and all(fnmatch.fnmatchcase(a, b) for a, b in zip(n.split("/"), parts, strict=True))
    )


def _include_target(bundle: Bundle, name: str, tok: lex.Token) -> str:
    """The include's pattern relative to the bundle, or InputError."""
    raw = tok.value
    if "$" in raw:
        raise _refuse(bundle, name, tok.line, _("include with a variable cannot be checked"))
    rel = raw
    if raw.startswith("/"):
        root = bundle.root.rstrip("/") + "/"
        if not raw.startswith(root):
            raise _refuse(
                bundle,
                name,
                tok.line,
                _(
                    "include %(path)s reads a file outside the uploaded config; only files of "
                    "the upload can be included (a relative path, or one under %(root)s)"
                )
                % {"path": raw, "root": bundle.root},
            )
        rel = raw[len(root) :]
    norm = posixpath.normpath(rel) if rel else ""
    if not rel or norm != rel.rstrip("/") or norm.startswith("..") or norm.startswith("/"):
        raise _refuse(
            bundle,
            name,
            tok.line,
            _("include %(path)s leaves the config directory; it is not read") % {"path": raw},
        )
    return norm


def _stock(rel: str) -> str | None:
    if rel not in STOCK:
        return None
    path = STOCK_DIR / rel
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except OSError:
        return None


def _split_hostport(value: str) -> tuple[str, str] | None:
    """(host, rest) of 'host', 'host:port' or '[v6]:port'; None for unix sockets."""
    if value.startswith("unix:"):
        return None
    if value.startswith("["):
        end = value.find("]")
        return (value[: end + 1], value[end + 1 :]) if end != -1 else None
    host, sep, port = value.partition(":")
    return host, sep + port


def _needs_mapping(host: str, upstreams: set[str]) -> bool:
    if not host or "$" in host or host in upstreams or host in ("localhost", "*"):
        return False
    if host.startswith("["):
        return False
    try:
        ipaddress.ip_address(host)
        return False
    except ValueError:
        pass
    if host.isdigit():  # `listen 8080`
        return False
    return bool(_HOSTNAME.match(host))


def _map_address(value: str, upstreams: set[str], scheme: bool) -> tuple[str, str] | None:
    """(new value, hostname) when the address names a host the sandbox cannot resolve."""
    prefix, rest = "", value
    if scheme:
        if "://" not in value:
            return None
        prefix, rest = value.split("://", 1)
        prefix += "://"
    authority, slash, path = rest.partition("/")
    split = _split_hostport(authority)
    if split is None:
        return None
    host, port = split
    if not _needs_mapping(host, upstreams):
        return None
    return prefix + "127.0.0.1" + port + slash + path, host


def _context(tree: list[lex.Stmt]) -> str:
    names = {s.directive for s in tree}
    if names & MAIN_ONLY:
        return "main"
    if names & SERVER_LEVEL and "server" not in names:
        return "server"
    for s in tree:
        if s.directive == "server" and s.block is not None:
            inner = {c.directive for c in s.block}
            passes = [c for c in s.block if c.directive == "proxy_pass"]
            if "location" not in inner and passes and "://" not in " ".join(passes[0].values):
                return "stream"
    return "http"


def _sandbox_paths(own: set[str]) -> str:
    """Directives that keep `nginx -t` inside the sandbox: it creates the temp directories
    and opens the default access log (/var/log/nginx/access.log) unless told otherwise."""
    paths = [f" {t} opsdesk-{t};" for t in TEMP_PATHS if t not in own]
    if "access_log" not in own:
        paths.append(" access_log opsdesk-access.log;")
    return "".join(paths)


def _wrapper(context: str, main: str, mime: bool, own: set[str]) -> str:
    types = "    include mime.types;\n" if mime else ""
    if context == "stream":
        return f"events {{}}\nstream {{\n    include {main};\n}}\n"
    temp = "    " + _sandbox_paths(own).strip() + "\n"
    if context == "server":
        return (
            f"events {{}}\nhttp {{\n{types}{temp}    server {{\n"
            f"        listen 8080;\n        include {main};\n    }}\n}}\n"
        )
    return f"events {{}}\nhttp {{\n{types}{temp}    include {main};\n}}\n"


def prepare(bundle: Bundle) -> Prepared:
    trees: dict[str, list[lex.Stmt]] = {}
    for name, text in bundle.files.items():
        try:
            trees[name] = lex.parse(text)
        except lex.LexError as exc:
            raise _refuse(bundle, name, exc.line, exc.message) from None
    names = list(bundle.files)
    upstreams = {
        s.values[0]
        for tree in trees.values()
        for s in lex.walk(tree)
        if s.directive == "upstream" and s.args
    }
    parse_edits: dict[str, dict[tuple[int, int], str]] = {n: {} for n in names}
    tool_edits: dict[str, dict[tuple[int, int], str]] = {n: {} for n in names}
    extra: dict[str, str] = {}
    prep = Prepared(bundle.main, {}, {}, trees, _context(trees[bundle.main]))
    counter = 0
    graph: dict[str, list[tuple[str, int]]] = {}  # file -> files it includes, with the line

    def standin(name: str, tok: lex.Token, new: str) -> None:
        tool_edits[name][(tok.start, tok.end)] = lex.quote(new)

    for name, tree in trees.items():
        for stmt in lex.walk(tree):
            d, args = stmt.directive, stmt.args
            if d in CODE_LOADERS:
                raise _refuse(
                    bundle,
                    name,
                    stmt.line,
                    _(
                        "%(directive)s loads code into nginx and is not run by the check; "
                        "remove the line (the checker loads the stream module itself)"
                    )
                    % {"directive": d},
                )
            if d == "include" and args:
                rel = _include_target(bundle, name, args[0])
                matches = _match(rel, names)
                if not matches and (content := _stock(rel)) is not None:
                    extra[rel] = content
                    matches = [rel]
                prep.included.update(matches)
                graph.setdefault(name, []).extend((m, stmt.line) for m in matches)
                if rel != args[0].value:
                    parse_edits[name][(args[0].start, args[0].end)] = lex.quote(rel)
                    tool_edits[name][(args[0].start, args[0].end)] = lex.quote(rel)
            elif d == "stream":
                prep.needs_stream = True
            elif d == "pid" and args:
                prep.has_pid = True
                standin(name, args[0], "opsdesk.pid")
            elif d in ("error_log", "access_log") and args:
                value = args[0].value
                if value not in ("off", "stderr") and not value.startswith(("syslog:", "memory:")):
                    counter += 1
                    standin(name, args[0], f"opsdesk-{counter}.log")
            elif d in CERTS | KEYS | CAS | CRLS | PASSWORDS and args:
                value = args[0].value
                if "$" in value or value.startswith("data:"):
                    continue  # loaded per handshake, not by `nginx -t`
                target = (
                    standins.CERT
                    if d in CERTS | CAS
                    else standins.KEY
                    if d in KEYS
                    else standins.CRL
                    if d in CRLS
                    else standins.PASSWORDS
                )
                standin(name, args[0], target)
            elif d == "ssl_dhparam" and args:
                standin(name, args[0], standins.DH)
            elif d == "ssl_session_ticket_key" and args:
                standin(name, args[0], standins.TICKET_KEY)
            elif d == "ssl_stapling_file":
                # an OCSP response from the server's disk: no stand-in is valid, drop it
                tool_edits[name][(stmt.name.start, stmt.end)] = ""
            elif (d in TEMP_PATHS or d in CACHE_PATHS) and args:
                counter += 1
                standin(name, args[0], f"opsdesk-tmp-{counter}")
            elif d in PASSES and args:
                scheme = d != "memcached_pass" and "://" in args[0].value
                mapped = _map_address(args[0].value, upstreams, scheme)
                if mapped:
                    standin(name, args[0], mapped[0])
                    prep.mapped_hosts.append((mapped[1], name, stmt.line))
            elif d == "server" and stmt.parent is not None and stmt.parent.directive == "upstream":
                if args and (mapped := _map_address(args[0].value, set(), False)):
                    standin(name, args[0], mapped[0])
                    prep.mapped_hosts.append((mapped[1], name, stmt.line))
            elif d == "listen" and args:
                # nginx -t binds every listener: an unprivileged user in an empty network
                # namespace can bind only high ports on wildcard or loopback addresses, so each
                # distinct address gets its own high port (duplicates stay duplicates)
                value = args[0].value
                key = re.sub(r"^(?:\*|0\.0\.0\.0):(\d+)$", r"\1", value)
                if key not in prep.listens and "$" not in value:
                    n = len(prep.listens)
                    if value.startswith("unix:"):
                        prep.listens[key] = f"unix:opsdesk-{n + 1}.sock"
                    elif value.startswith("["):
                        prep.listens[key] = f"[::]:{FIRST_PORT + n}"
                    else:
                        prep.listens[key] = str(FIRST_PORT + n)
                    host = _split_hostport(value)
                    if host and not host[0].isdigit() and _needs_mapping(host[0], set()):
                        prep.mapped_hosts.append((host[0], name, stmt.line))
                if key in prep.listens:
                    standin(name, args[0], prep.listens[key])
            elif d == "resolver":
                for tok in args:
                    if "=" not in tok.value and _needs_mapping(tok.value, set()):
                        standin(name, tok, "127.0.0.1")
                        prep.mapped_hosts.append((tok.value, name, stmt.line))
            elif d == "http" and stmt.block is not None:
                # nginx -t creates its temp directories: point the defaults into the sandbox,
                # on the line of "http {" so no line moves
                own = {c.directive for c in stmt.block}
                temp = _sandbox_paths(own)
                if temp:
                    tool_edits[name][(stmt.brace + 1, stmt.brace + 1)] = temp

    _check_cycles(bundle, graph)
    for name, text in bundle.files.items():
        prep.parse_files[name] = lex.replace(text, parse_edits[name])
        prep.tool_files[name] = lex.replace(text, tool_edits[name])
    for rel, content in extra.items():
        prep.parse_files[rel] = prep.tool_files[rel] = content
    if prep.context != "main":
        stock_types = _stock("mime.types")
        mime = "mime.types" in bundle.files or stock_types is not None
        if stock_types is not None and "mime.types" not in prep.parse_files:
            prep.parse_files["mime.types"] = prep.tool_files["mime.types"] = stock_types
        prep.main = WRAPPER
        prep.parse_files[WRAPPER] = prep.tool_files[WRAPPER] = _wrapper(
            prep.context,
            lex.quote(bundle.main),
            mime,
            {s.directive for s in trees[bundle.main]} if prep.context == "http" else set(),
        )
        prep.needs_stream = prep.needs_stream or prep.context == "stream"
        prep.included.add(bundle.main)
    prep.included.add(bundle.main)
    prep.tool_files.update(standins.files())
    _notes(bundle, prep)
    return prep


def _check_cycles(bundle: Bundle, graph: dict[str, list[tuple[str, int]]]) -> None:
    """Refuse includes that reach back to a file being included: nginx would open it again
    and again until it runs out of descriptors."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        for target, line in graph.get(name, []):
            if target in path:
                chain = " -> ".join([*path[path.index(target) :], target])
                raise _refuse(
                    bundle,
                    name,
                    line,
                    _("include loop: %(chain)s") % {"chain": chain},
                )
            if target not in done:
                visit(target, [*path, target])
        done.add(name)

    for start in graph:
        if start not in done:
            visit(start, [start])


def _notes(bundle: Bundle, prep: Prepared) -> None:
    for name in bundle.files:
        if name not in prep.included:
            prep.notes.append(
                finding(
                    bundle,
                    Severity.INFO,
                    "nginx.not-included",
                    _("%(name)s is not included by %(main)s, so nginx does not read it")
                    % {"name": name, "main": bundle.main},
                    name,
                    None,
                    why=_("Only files reached through include directives are part of the config."),
                    fix=_("Include it where it belongs, or leave it out of the upload."),
                )
            )
    if prep.mapped_hosts:
        first = prep.mapped_hosts[0]
        hosts = sorted({h for h, _n, _l in prep.mapped_hosts})
        prep.notes.append(
            finding(
                bundle,
                Severity.INFO,
                "nginx.hosts-not-resolved",
                _("hostnames checked as 127.0.0.1 (the check runs without network): %(hosts)s")
                % {"hosts": ", ".join(hosts[:10])},
                first[1],
                first[2],
                why=_(
                    "nginx resolves these names once at start-up; a name DNS does not know on "
                    "the real server stops nginx from starting."
                ),
                fix=_("Make sure each name resolves on the server, or use IP addresses."),
                data={"hosts": hosts},
            )
        )
