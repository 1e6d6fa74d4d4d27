"""The client's address behind reverse proxies, believed only from the proxies configured.

X-Forwarded-For is a header any client can send. Believed from everyone, it lets a client
pick the address the sign-in lockout counts failures against (a new address per attempt
never locks) and the audit log records. So:
- only a connection from an address in TRUSTED_PROXIES has its forwarded headers read;
- the client is the right-most X-Forwarded-For entry that is not itself a trusted proxy:
  the address the nearest untrusted hop connected from, appended by a proxy we trust.
  Entries to its left were written by the client and are ignored;
- from anyone else, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and Forwarded are
  removed before Django sees them, so neither the lockout nor SECURE_PROXY_SSL_HEADER can
  be steered by a client that connects directly.
uvicorn must not rewrite the address itself: it runs with --no-proxy-headers (Makefile, Helm
chart); with its default it believes X-Forwarded-For from 127.0.0.1.

An ASGI middleware around the whole application, so HTTP and websockets get the same
answer in scope["client"] (Django's REMOTE_ADDR).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

Scope = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[None]
]

FORWARDED = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded")
MAX_HOPS = 20  # a longer chain is read from its right end only


def parse_address(raw: str) -> str | None:
    """An address as proxies write it ('203.0.113.7', '203.0.113.7:5100', '[2001:db8::1]:80',
    '2001:db8::1'), normalised; None for anything else ('unknown', names, garbage)."""
    value = raw.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]  # IPv4 with a port
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def is_trusted(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in settings.TRUSTED_PROXIES)


def client_address(peer: str | None, forwarded_for: list[bytes]) -> str | None:
    """Who the client is, given the connecting peer and its X-Forwarded-For headers."""
    if not is_trusted(peer):
        return peer
    entries = [e for h in forwarded_for for e in h.decode("latin-1").split(",")][-MAX_HOPS:]
    client = peer
    for entry in reversed(entries):
        address = parse_address(entry)
        if address is None:
            # Not an address where a trusted proxy would have written one: stop at the last
            # hop we can vouch for (a trusted proxy), rather than believe what lies beyond.
            break
        client = address
        if not is_trusted(address):
            break
    return client


def resolve(scope: Scope) -> Scope:
    """A copy of an HTTP or websocket scope with the real client and, from an untrusted
    peer, no forwarded headers."""
    peer_info = scope.get("client")
    peer = peer_info[0] if peer_info else None
    headers = list(scope.get("headers") or [])
    if is_trusted(peer):
        forwarded_for = [v for k, v in headers if k == b"x-forwarded-for"]
        client = client_address(peer, forwarded_for)
        port = peer_info[1] if peer_info and client == peer else 0
        return {**scope, "client": (client, port)}
    kept = [(k, v) for k, v in headers if k.lower() not in FORWARDED]
    if len(kept) == len(headers):
        return scope
    return {**scope, "headers": kept}


class TrustedProxies:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = resolve(scope)
        await self.app(scope, receive, send)
