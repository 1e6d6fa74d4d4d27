"""The submitted input as a set of files: one pasted config, or a small bundle.

A bundle is pasted (or piped to the command line) in the format `tail -n +1 FILE…` prints,
which is what an engineer gets from a server in one command:

    ==> nginx.conf <==
    …
    ==> conf.d/app.conf <==
    …

Names are relative to the config directory; absolute names under one common directory
(`/etc/nginx/nginx.conf`) are made relative to it. Line numbers in findings count lines of
the submitted text, so the page can point into what was pasted; `where` names the file.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError, check_size
from apps.scenarios.engine.findings import Finding, Severity

MAX_FILES = 64
HEADER = re.compile(r"^==> (.+?) <==[ \t]*$")
KINDS = ("nginx", "haproxy")
DEFAULT_ROOT = {"nginx": "/etc/nginx", "haproxy": "/etc/haproxy"}
MAIN_NAMES = {"nginx": "nginx.conf", "haproxy": "haproxy.cfg"}

_HAPROXY_SECTION = re.compile(
    r"^\s*(global|defaults|frontend|backend|listen|userlist|peers|resolvers|mailers|"
    r"program|http-errors|ring|cache)\b[^{;]*$"
)
_HAPROXY_KEYWORD = re.compile(
    r"^\s+(bind|server|default_backend|use_backend|balance|mode|timeout|option|maxconn|"
    r"http-request|acl)\s"
)
# A statement ends with ';', a block opens with '{' or closes with a lone '}' (or a one-line
# block holding statements); HAProxy's inline conditions `if { path_beg /api }` have no ';'.
_NGINX_LINE = re.compile(r"(;|\{|^\s*\}|;\s*\})\s*(#.*)?$")


@dataclass
class Bundle:
    files: dict[str, str]  # relative name -> text
    main: str
    kind: str
    root: str  # the directory the names are relative to on the server (/etc/nginx)
    offsets: dict[str, int] = field(default_factory=dict)  # line offset in the submitted text
    multi: bool = False

    def input_line(self, name: str, line: int | None) -> int | None:
        """The line of the submitted text that is `line` of file `name`."""
        if line is None or name not in self.offsets:
            return line if name == self.main and not self.multi else None
        return self.offsets[name] + line

    def where(self, name: str, line: int | None) -> str:
        if not self.multi:
            return ""
        return f"{name}:{line}" if line else name

    def line_text(self, name: str, line: int | None) -> str:
        text = self.files.get(name)
        if text is None or not line:
            return ""
        lines = text.splitlines()
        return lines[line - 1].strip()[:300] if 0 < line <= len(lines) else ""


def detect_kind(text: str) -> str | None:
    """nginx or haproxy from the text's shape: HAProxy has section headers and indented
    keywords without terminators; nginx ends statements with ';' and opens blocks."""
    haproxy = nginx = 0
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        if _NGINX_LINE.search(line):
            nginx += 1
        elif _HAPROXY_SECTION.match(line):
            haproxy += 3
        elif _HAPROXY_KEYWORD.match(line):
            haproxy += 1
    if haproxy == nginx == 0:
        return None
    return "haproxy" if haproxy > nginx else "nginx"


def _split(text: str) -> list[tuple[str, str, int]] | None:
    """[(name, text, line offset)] for text in the `==> name <==` format, else None."""
    lines = text.split("\n")
    heads = [(i, m.group(1).strip()) for i, raw in enumerate(lines) if (m := HEADER.match(raw))]
    if not heads:
        return None
    if any(raw.strip() for raw in lines[: heads[0][0]]):
        raise InputError(
            _("text before the first '==> file <==' header; start the bundle with a header"),
            line=1,
            field="text",
        )
    out = []
    for n, (idx, name) in enumerate(heads):
        stop = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        body = lines[idx + 1 : stop]
        # `tail` separates files with one empty line: it is not part of the file
        if n + 1 < len(heads) and body and body[-1] == "":
            body = body[:-1]
        out.append((name, "\n".join(body), idx + 1))
    return out


def _relative(names: list[tuple[str, int]], kind: str) -> tuple[list[str], str]:
    """Names made relative, and the directory they were relative to."""
    absolute = [n for n, _line in names if n.startswith("/")]
    if absolute and len(absolute) != len(names):
        raise InputError(
            _("mix of absolute and relative file names in the bundle headers"), field="text"
        )
    if absolute:
        default = DEFAULT_ROOT[kind]
        if all(n.startswith(default + "/") for n in absolute):
            root = default
        else:
            root = posixpath.commonpath([posixpath.dirname(n) for n in absolute]) or "/"
        rel = [posixpath.relpath(n, root) for n in absolute]
    else:
        root = DEFAULT_ROOT[kind]
        rel = [n for n, _line in names]
    for name, (orig, line) in zip(rel, names, strict=True):
        norm = posixpath.normpath(name)
        if norm.startswith("../") or norm in ("..", ".") or "\x00" in name or norm != name:
            raise InputError(
                _("file name %(name)s leaves the bundle: only names inside it are read")
                % {"name": orig},
                line=line,
                field="text",
            )
    return rel, root


def _with_newline(text: str) -> str:
    """A pasted file usually loses its last newline; HAProxy refuses a last line without
    one ("Missing LF on last line"), which is the paste, not the config."""
    return text if not text or text.endswith("\n") else text + "\n"


def load(text: str, kind: str | None = None) -> Bundle:
    """The bundle in `text`; `kind` is nginx, haproxy or None to tell them apart."""
    check_size(text)
    if kind not in (None, "", "auto", *KINDS):
        raise InputError(_("kind must be nginx or haproxy"), field="kind")
    parts = _split(text)
    if not text.strip() or (parts is not None and not any(p[1].strip() for p in parts)):
        raise InputError(_("the config is empty"), field="text")
    content = text if parts is None else "\n".join(p[1] for p in parts)
    found = kind if kind in KINDS else detect_kind(content)
    if found is None:
        raise InputError(
            _("cannot tell whether this is an nginx or an HAProxy config; choose the kind"),
            field="kind",
        )
    if parts is None:
        name = MAIN_NAMES[found]
        return Bundle({name: _with_newline(text)}, name, found, DEFAULT_ROOT[found], {})
    if len(parts) > MAX_FILES:
        raise InputError(
            _("the bundle has %(n)d files; at most %(max)d are read")
            % {"n": len(parts), "max": MAX_FILES},
            field="text",
        )
    names, root = _relative([(p[0], p[2]) for p in parts], found)
    files: dict[str, str] = {}
    offsets: dict[str, int] = {}
    for name, (_orig, body, offset) in zip(names, parts, strict=True):
        if name in files:
            raise InputError(
                _("file %(name)s appears twice in the bundle") % {"name": name},
                line=offset,
                field="text",
            )
        files[name] = _with_newline(body)
        offsets[name] = offset
    main = MAIN_NAMES[found] if MAIN_NAMES[found] in files else names[0]
    return Bundle(files, main, found, root, offsets, multi=True)


def finding(
    bundle: Bundle,
    severity: Severity,
    rule: str,
    message: str,
    name: str,
    line: int | None,
    **extra: Any,
) -> Finding:
    """A finding at `line` of bundle file `name`, with that line as evidence."""
    extra.setdefault("evidence", bundle.line_text(name, line))
    data = dict(extra.pop("data", {}))
    where = str(extra.pop("where", ""))
    if name in bundle.files:
        where = bundle.where(name, line) or where
        if bundle.multi:
            data.update(file=name, file_line=line)
    return Finding(
        severity=severity,
        rule=rule,
        message=message,
        line=bundle.input_line(name, line),
        where=where,
        data=data,
        **extra,
    )
