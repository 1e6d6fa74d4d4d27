"""Running the git CLI for Git sources without handing it anything it could execute.

A Git source's URL and branch are typed by an admin into a web form, so they are untrusted
input to a program that can run commands: `--upload-pack=<cmd>` as an option, `ext::<cmd>`
as a transport, hooks and `core.fsmonitor` from a config file. Every call therefore:
- gets the URL and ref after `--`, and both are checked first (check_url, check_ref);
- runs with a cleared environment: no system or global git config, an empty HOME of its
  own (no ~/.gitconfig, ~/.netrc), no prompts;
- allows only the transports in KNOWLEDGE_GIT_PROTOCOLS (protocol.allow=never otherwise),
  runs no hooks, follows no HTTP redirects (a redirect could lead to an internal address,
  with the token), and fsck-checks every object it receives.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from apps.knowledge.ingest.connectors import ConnectorError

GIT_TIMEOUT = 600
OUTPUT_CAP = 200 * 1024 * 1024  # ls-tree of a huge repository, one blob at most 50 MB
# "<transport>::<address>" runs a remote helper (ext:: runs any command): never accepted.
_HELPER_SYNTAX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
# scp-like ssh address: [user@]host:path, no slash before the colon.
_SCP_LIKE = re.compile(r"^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:(?!//)")
_SCHEMES = {"https": "https", "http": "http", "ssh": "ssh", "git+ssh": "ssh", "file": "file"}


def allowed_protocols() -> list[str]:
    return list(settings.KNOWLEDGE_GIT_PROTOCOLS)


def protocol_of(url: str) -> str:
    """The git transport a URL uses: https, http, ssh or file (a local path)."""
    if url.startswith("/"):
        return "file"
    scheme = urlsplit(url).scheme.lower()
    if scheme in _SCHEMES:
        return _SCHEMES[scheme]
    if _SCP_LIKE.match(url):
        return "ssh"
    return scheme or "unknown"


def check_url(url: str) -> str | None:
    """Why this Git URL is refused, or None. Only what git would read as a repository
    address: no option, no remote helper, no credentials, an allowed transport."""
    if not url:
        return _("Give the repository URL.")
    if url.startswith("-"):
        return _("A repository URL cannot start with '-'.")
    if any(ord(c) < 32 or c == "\x7f" for c in url):
        return _("The URL contains control characters.")
    if _HELPER_SYNTAX.match(url):
        return _("Remote helper addresses (transport::address) are not allowed.")
    protocol = protocol_of(url)
    if protocol == "unknown" or protocol not in allowed_protocols():
        return _(
            "The %(protocol)s transport is not allowed; allowed: %(allowed)s "
            "(KNOWLEDGE_GIT_PROTOCOLS)."
        ) % {"protocol": protocol, "allowed": ", ".join(allowed_protocols())}
    if protocol in ("http", "https"):
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            return _("Put no credentials in the URL: use the Token field.")
        if not parts.hostname:
            return _("The URL has no host name.")
    if protocol == "file":
        path = url.removeprefix("file://")
        if not path.startswith("/"):
            return _("A local repository must be an absolute path.")
        from apps.knowledge.ingest.connectors.directory import root_refusal

        return root_refusal(Path(path))
    return None


def host_and_port(url: str) -> tuple[str, int] | None:
    """The server a network URL names (https, http, ssh, scp-like), or None for a path."""
    protocol = protocol_of(url)
    if protocol == "file":
        return None
    if protocol == "ssh" and "://" not in url:
        host = url.split(":", 1)[0].rsplit("@", 1)[-1]
        return host, 22
    parts = urlsplit(url)
    default = {"https": 443, "http": 80, "ssh": 22}.get(protocol, 0)
    return (parts.hostname or "", parts.port or default) if parts.hostname else None


def check_ref(name: str) -> str | None:
    """Why this branch or tag name is refused, or None (empty: the remote's default)."""
    if not name:
        return None
    if name.startswith("-") or len(name) > 255:
        return _("'%(name)s' is not a valid branch or tag name.") % {"name": name[:80]}
    # git's own rules (no spaces, '..', '@{', control characters, ...). Prefixed, so the
    # argument can never be read as an option.
    done = subprocess.run(
        ["git", "check-ref-format", f"refs/heads/{name}"],
        env=environment([]),
        capture_output=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        return _("'%(name)s' is not a valid branch or tag name.") % {"name": name[:80]}
    return None


def _home() -> Path:
    home = Path(settings.VAR_DIR) / "git" / ".home"
    home.mkdir(parents=True, exist_ok=True)
    return home


def environment(config: list[tuple[str, str]]) -> dict[str, str]:
    """A cleared environment: nothing of the portal's own (proxies, GIT_* variables, HOME)
    reaches git, and configuration comes only from `config`."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(_home()),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "true",
        "SSH_ASKPASS": "true",
        # ssh reads keys and known_hosts from the account's home, never prompts.
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
        "GIT_PROTOCOL_FROM_USER": "0",
        "GIT_ALLOW_PROTOCOL": ":".join(allowed_protocols()),
    }
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for n, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{n}"] = key
        env[f"GIT_CONFIG_VALUE_{n}"] = value
    return env


def base_config() -> list[tuple[str, str]]:
    config = [("protocol.allow", "never")]
    config += [(f"protocol.{p}.allow", "always") for p in allowed_protocols()]
    config += [
        ("core.hooksPath", os.devnull),
        ("core.fsmonitor", "false"),
        ("core.symlinks", "false"),
        ("credential.helper", ""),
        ("http.followRedirects", "false"),
        ("transfer.fsckObjects", "true"),
        ("fetch.recurseSubmodules", "false"),
        ("submodule.recurse", "false"),
    ]
    return config


def run(
    args: list[str],
    *,
    cwd: Path,
    config: list[tuple[str, str]] | None = None,
    secret: str = "",
    timeout: int = GIT_TIMEOUT,
) -> bytes:
    """Run `git <args>` and return its output; a failure is a ConnectorError carrying git's
    last line of complaint (with `secret` masked)."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=environment([*base_config(), *(config or [])]),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConnectorError(f"git {_verb(args)} took longer than {timeout} s") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        # git's first "fatal:" line says what went wrong; the lines after it are advice.
        fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
        detail = (fatal or lines or [f"exit code {done.returncode}"])[0]
        if secret:
            detail = detail.replace(secret, "***")
        raise ConnectorError(f"git {_verb(args)} failed: {detail}")
    if len(done.stdout) > OUTPUT_CAP:
        raise ConnectorError(f"git {_verb(args)} printed more than {OUTPUT_CAP} bytes")
    return done.stdout


def _verb(args: list[str]) -> str:
    return next((a for a in args if not a.startswith("-") and "/" not in a), "command")
