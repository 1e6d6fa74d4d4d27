"""The sign-in lockout holds behind a proxy: forwarded headers count only from TRUSTED_PROXIES,
and the client is the address the proxy appended. Checked against the real HAProxy config in
deploy/haproxy/ and the portal under uvicorn, as deployed."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.models import User

from apps.accounts.models import AuditEvent
from apps.accounts.tests.conftest import live_portal, wait_until_up
from common import proxies
from common.testing import free_port

ROOT = Path(settings.BASE_DIR)
PROXY = "127.0.0.2"  # HAProxy connects to the portal from here (its `source`)
VICTIM, PASSWORD = "victim", "victim-pass-123"


@pytest.fixture
def portal(transactional_db: None, tmp_path: Path) -> Iterator[int]:
    """The portal under uvicorn, trusting HAProxy's address only."""
    with live_portal(tmp_path, {"TRUSTED_PROXIES": PROXY}) as port:
        yield port


@pytest.fixture
def haproxy(portal: int, tmp_path: Path) -> Iterator[int]:
    """deploy/haproxy/haproxy.cfg as shipped, with its listen address, its servers pointed
    at the test portal (connecting from PROXY) and a maxconn this machine allows; no health
    checks, since /readyz depends on services this test does not need."""
    port = free_port()
    config = (ROOT / "deploy/haproxy/haproxy.cfg").read_text()
    config = config.replace("bind :8080", f"bind 127.0.0.1:{port}")
    # maxconn 20000 needs ~40k file descriptors, over this machine's hard limit.
    config = config.replace("maxconn 20000", "maxconn 1000")
    servers = re.findall(r"^\s*server portal-\d .*$", config, re.M)
    assert len(servers) == 2, "the shipped config changed: adapt this test"
    config = config.replace(servers[0], f"    server portal-0 127.0.0.1:{portal} source {PROXY}")
    config = config.replace(servers[1], "")
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    checked = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    log = tmp_path / "haproxy.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(path)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process, log)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _client(source: str) -> httpx.Client:
    """A browser on its own address (the loopback network has them all)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=30)


def _login(client: httpx.Client, base: str, password: str, forwarded: str = "") -> int:
    page = client.get(f"{base}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    response = client.post(
        f"{base}/accounts/login/",
        data={"username": VICTIM, "password": password, "csrfmiddlewaretoken": token.group(1)},
        headers=headers,
    )
    return response.status_code


def _ips(action: str) -> list[str | None]:
    return list(
        AuditEvent.objects.filter(action=action, actor_name=VICTIM)
        .order_by("pk")
        .values_list("ip", flat=True)
    )


def test_lockout_holds_behind_haproxy_whatever_the_client_forwards(
    portal: int, haproxy: int
) -> None:
    User.objects.create_user(VICTIM, password=PASSWORD)
    via_proxy = f"http://127.0.0.1:{haproxy}"
    attacker = _client("127.0.0.3")
    spoofed = ["203.0.113.7", "198.51.100.1, 127.0.0.2", PROXY]
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == len(spoofed)
    statuses = [_login(attacker, via_proxy, "wrong", forwarded=f) for f in spoofed]
    assert statuses == [200] * (limit - 1) + [429]
    # The right password, from a new forwarded address each time: still locked.
    assert _login(attacker, via_proxy, PASSWORD, forwarded="203.0.113.99") == 429
    assert _login(attacker, via_proxy, PASSWORD) == 429
    # Every failure counted against the address HAProxy appended, never a forwarded one.
    assert set(_ips("login_failed")) == {"127.0.0.3"}
    # Another engineer behind the same proxy is not locked out by the attacker.
    assert _login(_client("127.0.0.4"), via_proxy, PASSWORD) == 302
    assert _ips("login") == ["127.0.0.4"]


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(portal: int) -> None:
    User.objects.create_user(VICTIM, password=PASSWORD)
    direct = f"http://127.0.0.1:{portal}"
    for source in ("127.0.0.1", "127.0.0.5"):  # 127.0.0.1: what uvicorn trusts by default
        _login(_client(source), direct, "wrong", forwarded="127.0.0.4")
    assert _ips("login_failed") == ["127.0.0.1", "127.0.0.5"]


TRUSTED = [ip_network("127.0.0.2/32"), ip_network("10.111.0.0/16"), ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("127.0.0.2", ["203.0.113.7"], "203.0.113.7"),
        # The client's own header first, the proxy's appended address last: the last counts.
        ("127.0.0.2", ["203.0.113.7, 198.51.100.20"], "198.51.100.20"),
        ("127.0.0.2", ["203.0.113.7", "198.51.100.20"], "198.51.100.20"),
        # Two trusted proxies in a row: skip both.
        ("127.0.0.2", ["203.0.113.7, 198.51.100.20, 10.111.4.5"], "198.51.100.20"),
        ("127.0.0.2", ["198.51.100.20:51234"], "198.51.100.20"),
        ("127.0.0.2", ["[2001:db8::7]:443"], "2001:db8::7"),
        ("127.0.0.2", ["2001:db8::7"], "2001:db8::7"),
        # Garbage where a trusted proxy writes an address: stop at the proxy.
        ("127.0.0.2", ["unknown"], "127.0.0.2"),
        ("127.0.0.2", ["203.0.113.7, <script>"], "127.0.0.2"),
        ("127.0.0.2", ["1" * 10000], "127.0.0.2"),
        ("127.0.0.2", [", , ,"], "127.0.0.2"),
        ("127.0.0.2", ["203.0.113.7\x00, 198.51.100.3"], "198.51.100.3"),
        ("127.0.0.2", [], "127.0.0.2"),
        # Only trusted hops: the left-most is the client.
        ("127.0.0.2", ["10.111.0.9, 10.111.0.8"], "10.111.0.9"),
        # An untrusted peer's header is not read at all.
        ("127.0.0.9", ["203.0.113.7"], "127.0.0.9"),
        ("10.112.0.1", ["203.0.113.7"], "10.112.0.1"),
        ("::ffff:127.0.0.2", ["203.0.113.7"], "203.0.113.7"),
    ],
)
def test_client_address_hostile_headers(
    peer: str, forwarded: list[str], client: str, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = TRUSTED
    assert proxies.client_address(peer, [f.encode("latin-1") for f in forwarded]) == client


def test_untrusted_peer_loses_every_forwarded_header(settings: Any) -> None:
    settings.TRUSTED_PROXIES = TRUSTED
    headers = [
        (b"host", b"portal"),
        (b"x-forwarded-for", b"203.0.113.7"),
        (b"X-Forwarded-Proto", b"https"),
        (b"x-forwarded-host", b"evil.example"),
        (b"forwarded", b"for=203.0.113.7;proto=https"),
    ]
    scope = {"type": "http", "client": ("192.0.2.1", 5000), "headers": headers}
    resolved = proxies.resolve(scope)
    assert resolved["headers"] == [(b"host", b"portal")]
    assert resolved["client"] == ("192.0.2.1", 5000)
    trusted = proxies.resolve({**scope, "client": ("127.0.0.2", 5000)})
    assert trusted["client"] == ("203.0.113.7", 0) and trusted["headers"] == headers
