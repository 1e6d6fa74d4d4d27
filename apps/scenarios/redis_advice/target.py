"""A Redis URL, checked before anything connects to it.

Only redis:// and rediss:// with a host are accepted: no unix:// sockets (the portal's own
files are one path away), no URL options (redis-py passes unknown ones to the connection),
no control characters. The console refuses in addition the portal's own Redis, whose key
names include session ids.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings

from apps.scenarios.engine.base import InputError

DEFAULT_PORT = 6379
_LOOPBACK = {"localhost", "localhost.localdomain", "ip6-localhost"}


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    db: int
    tls: bool
    username: str = ""
    password: str = ""

    def display(self) -> str:
        """The URL without credentials, as shown and stored."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.username}@" if self.username else ""
        return f"{'rediss' if self.tls else 'redis'}://{user}{host}:{self.port}/{self.db}"


def parse_url(url: str, *, field: str = "url") -> Target:
    url = url.strip()
    if not url:
        raise InputError("a Redis URL is required", field=field)
    if re.search(r"[\x00-\x20\x7f]", url):
        raise InputError("the URL contains spaces or control characters", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"not a valid URL: {exc}", field=field) from None
    if parts.scheme not in ("redis", "rediss"):
        hint = "; unix sockets are not accepted" if parts.scheme == "unix" else ""
        raise InputError(f"only redis:// and rediss:// URLs are accepted{hint}", field=field)
    if not parts.hostname:
        raise InputError("the URL has no host", field=field)
    if parts.query or parts.fragment:
        raise InputError("URL options are not accepted (TLS is chosen by rediss://)", field=field)
    path = parts.path.strip("/")
    if path and not re.fullmatch(r"\d{1,4}", path):
        raise InputError(f"the path must be a database number, not {parts.path!r}", field=field)
    if port is not None and not 0 < port < 65536:
        raise InputError("the port must be between 1 and 65535", field=field)
    return Target(
        host=parts.hostname,
        port=port or DEFAULT_PORT,
        db=int(path or 0),
        tls=parts.scheme == "rediss",
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


def _same_host(a: str, b: str) -> bool:
    def norm(host: str) -> str:
        host = host.lower().strip("[]")
        if host in _LOOPBACK:
            return "loopback"
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return host
        return "loopback" if ip.is_loopback or ip.is_unspecified else str(ip)

    return norm(a) == norm(b)


def is_portal_redis(target: Target) -> bool:
    """Whether the target is the Redis the portal itself uses (cache, channels, Celery)."""
    for url in {
        getattr(settings, "REDIS_URL", "") or "",
        getattr(settings, "CELERY_BROKER_URL", "") or "",
    }:
        if not url.startswith(("redis://", "rediss://")):
            continue
        try:
            own = parse_url(url)
        except InputError:
            continue
        if own.port == target.port and _same_host(own.host, target.host):
            return True
    return False
