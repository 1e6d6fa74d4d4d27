"""Outbound fetches of knowledge sources reach only addresses the portal may fetch from.

An admin types the URL of a web, Confluence or Git source; the portal then fetches it from
inside the network and makes the result searchable by every reader. Without a check that is
a way to read the model server's /metrics, Redis, the cloud metadata service or any internal
page. So loopback, link-local (metadata), private, shared, multicast and reserved addresses
are refused unless KNOWLEDGE_FETCH_ALLOWED_NETWORKS lists their network (an intranet wiki).

The check is made on the addresses the name resolves to, at connection time, and the
connection is then made to the address that was checked: a name that resolves to a public
address for the check and to 127.0.0.1 for the connection (DNS rebinding) gets nowhere.
Every redirect opens its connection through the same check. Environment proxies are not
used (their CONNECT would resolve the name elsewhere).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
RESOLVE_TIMEOUT = 5.0


class AddressRefused(OSError):
    """The host resolves to an address the portal does not fetch from."""


def _embedded(ip: IPAddress) -> list[IPAddress]:
    """IPv4 addresses an IPv6 address carries to a gateway: mapped, 6to4, Teredo, NAT64."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found: list[IPAddress] = []
    if ip.ipv4_mapped:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour:
        found.append(ip.sixtofour)
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _kind(ip: IPAddress) -> str:
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified or ip.is_reserved:
        return "reserved"
    return "private"


def refused_kind(ip: IPAddress) -> str | None:
    """None if the portal may connect to `ip`; else which kind of internal address it is."""
    allowed = settings.KNOWLEDGE_FETCH_ALLOWED_NETWORKS
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    # An embedded IPv4 address first: "loopback" says more than "reserved" for NAT64.
    candidates = [mapped] if mapped else [*_embedded(ip), ip]
    for address in candidates:
        if any(address.version == net.version and address in net for net in allowed):
            continue
        if not address.is_global or address.is_multicast or address.is_reserved:
            return _kind(address)
    return None


def _refusal(host: str, ip: IPAddress, kind: str) -> AddressRefused:
    return AddressRefused(
        _(
            "%(host)s resolves to %(address)s, a %(kind)s address: the portal does not "
            "fetch from internal addresses unless KNOWLEDGE_FETCH_ALLOWED_NETWORKS lists "
            "their network."
        )
        % {"host": host, "address": ip, "kind": kind}
    )


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, all of them allowed; AddressRefused otherwise (one
    refused address refuses the name: which one a client gets is not ours to choose)."""
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror}") from None
    addresses: list[str] = []
    for info in infos:
        literal = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 scope id
        ip = ipaddress.ip_address(literal)
        kind = refused_kind(ip)
        if kind:
            raise _refusal(host, ip, kind)
        if literal not in addresses:
            addresses.append(literal)
    if not addresses:
        raise OSError(f"{host} has no address")
    return addresses


def url_refusal(url: str) -> str | None:
    """For forms: why the URL's host may not be fetched, or None (also when the name does
    not resolve right now: the sync reports that)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        checked_addresses(parts.hostname, port)
    except AddressRefused as exc:
        return str(exc)
    except (OSError, ValueError):
        return None
    return None


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to checked addresses."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = checked_addresses(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from None
        error: Exception | None = None
        for address in addresses:
            try:
                # The literal address: no second resolution between check and connect.
                # TLS still verifies the certificate against the URL's host name.
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error


class GuardedTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__(trust_env=False)
        # httpx has no parameter for the network backend: its pool is made again with one.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=10,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(),
        )


def http_client(**kwargs: Any) -> httpx.Client:
    """An httpx client for source fetches: checked addresses, at most 5 redirects."""
    kwargs.setdefault("max_redirects", 5)
    return httpx.Client(transport=GuardedTransport(), trust_env=False, **kwargs)


def requests_session() -> Any:
    """A requests session (for atlassian-python-api) whose every connection is checked."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.util.connection import create_connection

    class Checked:
        def _new_conn(self: Any) -> socket.socket:
            error: OSError | None = None
            for address in checked_addresses(self._dns_host, self.port):
                try:
                    return create_connection(
                        (address, self.port),
                        self.timeout,
                        source_address=self.source_address,
                        socket_options=self.socket_options,
                    )
                except OSError as exc:
                    error = exc
            assert error is not None
            raise error

    class CheckedHTTP(Checked, HTTPConnection):
        pass

    class CheckedHTTPS(Checked, HTTPSConnection):
        pass

    class CheckedHTTPPool(HTTPConnectionPool):
        ConnectionCls = CheckedHTTP

    class CheckedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = CheckedHTTPS

    class CheckedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {
                "http": CheckedHTTPPool,
                "https": CheckedHTTPSPool,
            }

    session = requests.Session()
    session.trust_env = False  # no environment proxy, no ~/.netrc
    session.max_redirects = 5
    adapter = CheckedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
