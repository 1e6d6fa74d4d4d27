"""`nginx -t` and gixy-ng on the prepared copy, their output turned into findings.

Both run through the engine's sandboxed runner at the same time (they do not depend on each
other; on two cores that halves the wait). Tool messages keep the tool's own words; the file
and line they name are mapped back to the submitted text, the temporary paths taken out.
"""

from __future__ import annotations

import difflib
import json
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crossplane
from crossplane.analyzer import DIRECTIVES
from django.utils.translation import gettext as _

from apps.scenarios.engine import runner
from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.proxy_config import gixy_text
from apps.scenarios.proxy_config.bundle import Bundle, finding
from apps.scenarios.proxy_config.nginx_prepare import Prepared

STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")
_MESSAGE = re.compile(
    r"^nginx: \[(?P<level>\w+)\] (?P<msg>.*?)(?: in (?P<file>\S+):(?P<line>\d+))?$"
)
_LEVELS = {
    "emerg": Severity.ERROR,
    "alert": Severity.ERROR,
    "crit": Severity.ERROR,
    "error": Severity.ERROR,
    "warn": Severity.WARNING,
}
# Messages caused by the sandbox, not by the config: running as an unprivileged user, and
# the throwaway certificate having no issuer and no OCSP responder.
_ARTIFACTS = (
    'the "user" directive makes sense only if',
    '"ssl_stapling" ignored, issuer certificate not found',
    '"ssl_stapling" ignored, no OCSP responder URL',
)


@dataclass
class ToolRun:
    ok: bool
    seconds: float
    output: str


def _nginx_argv(prep: Prepared) -> list[str]:
    argv = ["nginx", "-t", "-q", "-p", "{dir}/", "-c", "{dir}/" + prep.main]
    argv += ["-e", "{dir}/opsdesk-error.log"]
    extra = "" if prep.has_pid else "pid {dir}/opsdesk.pid;"
    if prep.needs_stream and STREAM_MODULE.is_file():
        extra += f" load_module {STREAM_MODULE};"
    return [*argv, "-g", extra.strip()] if extra else argv


def run_tools(prep: Prepared) -> tuple[runner.ToolResult, runner.ToolResult | None]:
    """(nginx -t, gixy) results; gixy is None when it is not installed."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        nginx = pool.submit(runner.run, _nginx_argv(prep), prep.tool_files, timeout=15.0)
        gixy = None
        if runner.installed("gixy"):
            gixy = pool.submit(
                runner.run, ["gixy", "-f", "json", prep.main], prep.tool_files, timeout=30.0
            )
        return nginx.result(), gixy.result() if gixy else None


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, list(DIRECTIVES), n=3, cutoff=0.75)
    return ", ".join(close)


def _explain(msg: str) -> tuple[str, str]:
    """(why, fix) for the nginx messages a reviewer meets most."""
    if m := re.match(r'unknown directive "([^"]+)"', msg):
        close = _suggest(m.group(1))
        fix = (
            _("Did you mean: %(names)s?") % {"names": close}
            if close
            else _("Check the spelling, or whether the module that provides it is loaded.")
        )
        return _("nginx does not know this directive and refuses to start."), fix
    if m := re.match(r'"([^"]+)" directive is not allowed here', msg):
        return (
            _("The directive is in a block where nginx does not accept it."),
            _("Move %(name)s into the block the nginx documentation lists for it.")
            % {"name": m.group(1)},
        )
    if m := re.match(r'"([^"]+)" directive is duplicate', msg):
        return (
            _("The same directive is set twice in one block."),
            _("Keep one %(name)s in this block.") % {"name": m.group(1)},
        )
    if msg.startswith("invalid number of arguments"):
        return (
            _("The directive has too many or too few arguments."),
            _("Check the arguments (a missing ';' joins two lines into one directive)."),
        )
    if msg.startswith("open() ") and "(2: No such file" in msg:
        return (
            _("nginx cannot open a file the config includes; it is not in the upload."),
            _("Add the file to the bundle (==> its/path <==), or remove the include."),
        )
    if msg.startswith('no "ssl_certificate" is defined'):
        return (
            _("A listener with ssl has no certificate, so no TLS handshake can succeed."),
            _("Add ssl_certificate and ssl_certificate_key to this server."),
        )
    if "duplicate default server" in msg:
        return (
            _("Two servers claim default_server on the same address and port."),
            _("Keep default_server on one server per listen address."),
        )
    if msg.startswith("conflicting server name"):
        return (
            _("Two servers answer the same name on the same port; nginx uses the first."),
            _("Remove the name from one of the servers."),
        )
    return (
        _("nginx refuses to start (or reload) with this config; a reload keeps the old one."),
        _("Fix the line the message names and run the check again."),
    )


def nginx_findings(bundle: Bundle, prep: Prepared, result: runner.ToolResult) -> list[Finding]:
    out: list[Finding] = []
    if result.timed_out:
        return [
            finding(
                bundle,
                Severity.ERROR,
                "nginx.check",
                _("nginx -t did not finish in time"),
                bundle.main,
                None,
                why=_("The check was stopped; the config may include itself or be huge."),
                fix=_("Look for includes that include each other."),
            )
        ]
    for raw in _restore_listens(prep, result.clean(result.stderr)).splitlines():
        m = _MESSAGE.match(raw.strip())
        if not m or any(a in m.group("msg") for a in _ARTIFACTS):
            continue
        level = m.group("level")
        severity = _LEVELS.get(level, Severity.INFO)
        msg = m.group("msg")
        name = m.group("file") or bundle.main
        if name.startswith("./"):
            name = name[2:]
        line = int(m.group("line")) if m.group("line") else None
        if name not in bundle.files:
            name, line = bundle.main, None  # the generated wrapper or a stand-in
        why, fix = _explain(msg)
        out.append(
            finding(
                bundle,
                severity,
                "nginx.check",
                raw.strip().removeprefix("nginx: "),
                name,
                line,
                why=why,
                fix=fix,
                refs=_refs(msg),
                data={"tool": "nginx -t", "level": level},
            )
        )
    if not result.ok and not any(f.severity.blocking for f in out):
        # failed without a message we understood: show what it said
        text = result.clean(result.stderr).strip()[-500:] or _("no output")
        out.append(
            finding(
                bundle,
                Severity.ERROR,
                "nginx.check",
                _("nginx -t failed: %(text)s") % {"text": text},
                bundle.main,
                None,
                data={"tool": "nginx -t"},
            )
        )
    return out


_SANDBOX_LISTEN = re.compile(r"(?:0\.0\.0\.0|\[::\]):(\d+)|unix:(?:\./)?(opsdesk-\d+\.sock)")


def _restore_listens(prep: Prepared, text: str) -> str:
    """The tool's messages with the user's listen addresses instead of the sandbox's."""
    back: dict[str, str] = {}
    for original, mapped in prep.listens.items():
        shown = f"0.0.0.0:{original}" if original.isdigit() else original
        back[mapped.rsplit(":", 1)[-1] if not mapped.startswith("unix:") else mapped[5:]] = shown
    return _SANDBOX_LISTEN.sub(lambda m: back.get(m.group(1) or m.group(2), m.group(0)), text)


def _refs(msg: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(re.findall(r'"([a-z_0-9]+)"', msg)))[:3]


def gixy_findings(bundle: Bundle, result: runner.ToolResult | None) -> list[Finding]:
    if result is None:
        return []
    try:
        issues: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        return [
            finding(
                bundle,
                Severity.INFO,
                "gixy.failed",
                _("gixy-ng could not analyse the config: %(text)s")
                % {"text": result.clean(result.stderr).strip()[-300:] or _("no output")},
                bundle.main,
                None,
            )
        ]
    out: list[Finding] = []
    for issue in issues:
        plugin = str(issue.get("plugin", "unknown"))
        name = result.clean(str(issue.get("file") or issue.get("path") or bundle.main))
        line = issue.get("line") if isinstance(issue.get("line"), int) else None
        if name not in bundle.files:
            name, line = bundle.main, None
        text = gixy_text.describe(plugin, issue)
        out.append(
            finding(
                bundle,
                text.severity,
                f"gixy.{plugin}",
                text.message,
                name,
                line,
                why=text.why,
                fix=text.fix,
                refs=(plugin, *((str(issue["reference"]),) if issue.get("reference") else ())),
                data={"tool": "gixy-ng", "gixy_severity": str(issue.get("severity", ""))},
            )
        )
    return out


def crossplane_tree(prep: Prepared) -> dict[str, Any]:
    """crossplane's payload of the parse copy, includes inlined, file names relative."""
    with tempfile.TemporaryDirectory(prefix="opsdesk-parse-") as tmp:
        root = Path(tmp)
        for name, text in prep.parse_files.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        try:
            payload: dict[str, Any] = crossplane.parse(str(root / prep.main), combine=True)
        except RecursionError:
            # includes nested in blocks nested in includes: deeper than any real config
            raise InputError(
                _("the config nests blocks and includes too deeply"), field="text"
            ) from None
    prefix = tmp.rstrip("/") + "/"

    def strip(stmts: list[dict[str, Any]]) -> None:
        for stmt in stmts:
            stmt["file"] = str(stmt.get("file", "")).removeprefix(prefix)
            if "block" in stmt:
                strip(stmt["block"])

    for config in payload.get("config", []):
        config["file"] = str(config.get("file", "")).removeprefix(prefix)
        strip(config.get("parsed", []))
    for err in payload.get("errors", []):
        err["file"] = str(err.get("file", "")).removeprefix(prefix)
        err["error"] = str(err.get("error", "")).replace(prefix, "")
    return payload


def parse_findings(
    bundle: Bundle, payload: dict[str, Any], seen: set[tuple[str, int]]
) -> list[Finding]:
    """crossplane's context and argument errors on lines nginx did not already report:
    nginx stops at its first error, crossplane lists them all."""
    out = []
    for err in payload.get("errors", []):
        name, line = str(err.get("file", "")), err.get("line")
        if name not in bundle.files or not isinstance(line, int) or (name, line) in seen:
            continue
        msg = re.sub(r" in \S+:\d+$", "", str(err.get("error", "")))
        why, fix = _explain(msg)
        out.append(
            finding(
                bundle,
                Severity.ERROR,
                "nginx.parse",
                msg,
                name,
                line,
                why=why,
                fix=fix,
                refs=_refs(msg),
                data={"tool": "crossplane"},
            )
        )
    return out
