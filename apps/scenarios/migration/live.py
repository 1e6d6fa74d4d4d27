"""Live pre-checks of a RabbitMQ node through its management API: GET requests only.

What the checklist needs before an upgrade: the version (and Erlang's), every feature flag
and its state, the queue types in use, the policies that enable classic queue mirroring and
the queues under them, and the nodes' memory and disk alarms. The URL is checked before
anything connects (http/https only, no credentials, options or fragments in it); redirects
are not followed; answers are capped in size. The feature flag list needs a user with the
administrator tag in RabbitMQ; with a monitoring user it is reported as unread, not guessed.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.migration.rabbitmq import MIRROR_KEYS

TIMEOUT = httpx.Timeout(10.0, connect=3.0)
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_QUEUES = 10_000


class Unreachable(Exception):
    """The node could not be read; the message says why."""


def check_url(url: str, *, field: str = "url") -> str:
    """The management API's base URL, normalised, or InputError naming the field."""
    url = (url or "").strip()
    if not url:
        raise InputError(_("the management API URL is required"), field=field)
    if re.search(r"[\x00-\x20\x7f]", url):
        raise InputError(_("the URL contains spaces or control characters"), field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError(_("not a valid URL: %(e)s") % {"e": exc}, field=field) from None
    if parts.scheme not in ("http", "https"):
        raise InputError(_("only http:// and https:// URLs are accepted"), field=field)
    if not parts.hostname:
        raise InputError(_("the URL has no host"), field=field)
    if parts.username or parts.password:
        raise InputError(
            _("put the user and password in their fields, not in the URL"), field=field
        )
    if parts.query or parts.fragment:
        raise InputError(_("the URL may not have ?options or a #fragment"), field=field)
    if port is not None and not 0 < port < 65536:
        raise InputError(_("the port must be between 1 and 65535"), field=field)
    path = parts.path.rstrip("/")
    if path.endswith("/api"):
        path = path[: -len("/api")]
    if ".." in path.split("/"):
        raise InputError(_("the URL path may not contain .."), field=field)
    host = f"[{parts.hostname}]" if _is_v6(parts.hostname) else parts.hostname
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{path}"


def _is_v6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


class Client:
    def __init__(self, url: str, username: str, password: str, ca_file: str = "") -> None:
        self.base = check_url(url)
        verify: Any = ca_file or True
        self.http = httpx.Client(
            timeout=TIMEOUT,
            auth=httpx.BasicAuth(username, password),
            verify=verify,
            follow_redirects=False,
            headers={"Accept": "application/json"},
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def get(self, path: str) -> tuple[int, Any]:
        url = f"{self.base}/api/{path}"
        try:
            with self.http.stream("GET", url) as response:
                raw = b""
                for chunk in response.iter_bytes():
                    raw += chunk
                    if len(raw) > MAX_RESPONSE_BYTES:
                        raise Unreachable(
                            _("the answer to %(path)s is larger than 10 MB") % {"path": path}
                        )
        except httpx.HTTPError as exc:
            raise Unreachable(
                _("%(url)s cannot be reached: %(error)s")
                % {"url": self.base, "error": f"{type(exc).__name__}: {exc}"}
            ) from None
        if response.is_redirect:
            raise Unreachable(_("the management API answered with a redirect; give its final URL"))
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return response.status_code, data


def snapshot(client: Client) -> dict[str, Any]:
    """What the checklist reads from a node: see the module docstring."""
    status, overview = client.get(
        "overview?columns=rabbitmq_version,erlang_version,node,cluster_name"
    )
    if status == 401:
        raise Unreachable(_("the management API refused the user and password (401)"))
    if status != 200 or not isinstance(overview, dict):
        raise Unreachable(
            _("GET /api/overview answered %(status)d; is this a RabbitMQ management API?")
            % {"status": status}
        )
    out: dict[str, Any] = {
        "via": "management API",
        "url": client.base,
        "node": str(overview.get("node", "")),
        "cluster": str(overview.get("cluster_name", "")),
        "version": str(overview.get("rabbitmq_version", "")),
        "erlang": str(overview.get("erlang_version", "")),
        "unread": [],
    }
    # A user without the administrator tag gets 401 "Not administrator user" here.
    status, flags = client.get("feature-flags")
    if status == 200 and isinstance(flags, list):
        out["feature_flags"] = [
            {
                "name": str(f.get("name", "")),
                "state": str(f.get("state", "")),
                "stability": str(f.get("stability", "")),
            }
            for f in flags
            if isinstance(f, dict)
        ]
    else:
        out["unread"].append("feature_flags")
    status, nodes = client.get("nodes?columns=name,running,mem_alarm,disk_free_alarm")
    alarms: list[str] = []
    if status == 200 and isinstance(nodes, list):
        out["nodes"] = len(nodes)
        for node in nodes:
            if not isinstance(node, dict):
                continue
            name = str(node.get("name", ""))
            if node.get("mem_alarm"):
                alarms.append(f"memory@{name}")
            if node.get("disk_free_alarm"):
                alarms.append(f"disk@{name}")
            if node.get("running") is False:
                alarms.append(f"down@{name}")
    else:
        out["unread"].append("alarms")
    out["alarms"] = alarms
    status, policies = client.get("policies")
    mirror: list[dict[str, str]] = []
    if status == 200 and isinstance(policies, list):
        for policy in policies:
            definition = policy.get("definition") if isinstance(policy, dict) else None
            if isinstance(definition, dict) and any(k in definition for k in MIRROR_KEYS):
                mirror.append(
                    {
                        "vhost": str(policy.get("vhost", "")),
                        "name": str(policy.get("name", "")),
                        "pattern": str(policy.get("pattern", "")),
                    }
                )
    else:
        out["unread"].append("policies")
    out["mirror_policies"] = mirror
    types: dict[str, int] = {}
    mirrored, seen, page, pages = 0, 0, 1, 1
    columns = quote("name,vhost,type,policy,effective_policy_definition")
    while page <= pages and seen < MAX_QUEUES:
        status, queues = client.get(f"queues?columns={columns}&page={page}&page_size=500")
        if status != 200 or not isinstance(queues, dict):
            out["unread"].append("queues")
            break
        pages = int(queues.get("page_count") or 1)
        for queue in queues.get("items") or []:
            if not isinstance(queue, dict):
                continue
            seen += 1
            kind = str(queue.get("type") or "classic")
            types[kind] = types.get(kind, 0) + 1
            effective = queue.get("effective_policy_definition")
            if kind == "classic" and isinstance(effective, dict) and "ha-mode" in effective:
                mirrored += 1
        page += 1
    out["queue_types"] = types
    out["mirrored_queues"] = mirrored
    return out


def read(url: str, username: str, password: str, ca_file: str = "") -> dict[str, Any]:
    with Client(url, username, password, ca_file) as client:
        return snapshot(client)


def from_cli(url: str) -> dict[str, Any]:
    """`--rabbitmq-url`: the user and password from RABBITMQ_USER and RABBITMQ_PASSWORD."""
    import os

    try:
        return read(
            check_url(url, field="rabbitmq-url"),
            os.environ.get("RABBITMQ_USER", "guest"),
            os.environ.get("RABBITMQ_PASSWORD", ""),
            os.environ.get("RABBITMQ_CA_FILE", ""),
        )
    except Unreachable as exc:
        raise InputError(
            _("cannot read the node: %(e)s") % {"e": exc}, field="rabbitmq-url"
        ) from None
