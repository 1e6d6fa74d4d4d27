"""A real OpenID Connect provider for the tests (node-oidc-provider, deploy/dev/oidc/), and a
browser stand-in that walks the sign-in between it and the portal.

The provider runs as its own process on a loopback port; the portal under test is Django's
test client (host "testserver"), which calls the provider's token, JWKS and userinfo
endpoints over real HTTP. A small pass-through proxy can sit in front of the provider to
alter its answers (a tampered ID token signature) the way an attacker on the path would.
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings
from django.test import Client

from common.testing import free_port

ROOT = Path(settings.BASE_DIR)
CLIENT_ID = "opsdesk"
CLIENT_SECRET = "opsdesk-test-client-secret"
CALLBACK = "http://testserver/accounts/oidc/callback/"
AFTER_LOGOUT = "http://testserver/accounts/login/"


def install() -> None:
    """The provider's npm packages, from the cache keyed by the lock (deploy/dev/oidc.sh)."""
    subprocess.run(["bash", str(ROOT / "deploy/dev/oidc.sh")], check=True, capture_output=True)


class Provider:
    """node-oidc-provider on 127.0.0.1:port with one confidential client, the portal."""

    def __init__(
        self, workdir: Path, *, clock_skew: int = 0, issuer: str = "", port: int = 0
    ) -> None:
        self.port = port or free_port()
        self.issuer = issuer or f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.users_file = workdir / "users.json"
        self.clock_skew = clock_skew
        self.process: subprocess.Popen[bytes] | None = None
        self.set_users({})

    def set_users(self, users: dict[str, dict[str, Any]]) -> None:
        """Who may sign in; read again by the provider at every sign-in."""
        self.users_file.write_text(json.dumps(users))

    def start(self) -> Provider:
        config = {
            "issuer": self.issuer,
            "port": self.port,
            "users_file": str(self.users_file),
            "clock_skew_seconds": self.clock_skew,
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": [CALLBACK],
                    "post_logout_redirect_uris": [AFTER_LOGOUT],
                    "grant_types": ["authorization_code", "refresh_token"],
                }
            ],
        }
        path = self.workdir / "provider.json"
        path.write_text(json.dumps(config))
        log = open(self.workdir / "provider.log", "w")  # noqa: SIM115 (the process keeps it)
        self.process = subprocess.Popen(
            ["node", str(ROOT / "deploy/dev/oidc/provider.mjs"), str(path)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/jwks", timeout=1)
                return self
            except httpx.HTTPError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError(f"the OIDC provider did not start; see {self.workdir / 'provider.log'}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class TamperingProxy:
    """Forwards to the provider; `alter` may rewrite the JSON body of /token answers."""

    def __init__(self, upstream_port: int, port: int) -> None:
        self.alter: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                # The Host header goes along: the provider names its endpoints after it.
                headers = dict(self.headers.items())
                upstream = httpx.request(
                    self.command,
                    f"http://127.0.0.1:{upstream_port}{self.path}",
                    headers=headers,
                    content=body,
                    timeout=10,
                )
                content = upstream.content
                if self.path.startswith("/token") and proxy.alter and upstream.status_code == 200:
                    content = json.dumps(proxy.alter(upstream.json())).encode()
                self.send_response(upstream.status_code)
                for key, value in upstream.headers.multi_items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def flip_signature(answer: dict[str, Any]) -> dict[str, Any]:
    """The token answer with one bit of the ID token's signature changed."""
    head, payload, signature = answer["id_token"].split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0x01
    answer["id_token"] = ".".join(
        [head, payload, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()]
    )
    return answer


class Browser:
    """Follows redirects between the portal (the Django test client) and the provider (HTTP),
    and fills in the provider's login form, as a person's browser would."""

    def __init__(self, client: Client, provider_base: str) -> None:
        self.portal = client
        self.provider_base = provider_base
        self.http = httpx.Client(timeout=10)
        self.last_url = ""
        self.history: list[str] = []

    def _request(self, method: str, url: str, data: dict[str, str] | None = None) -> Any:
        if url.startswith(self.provider_base):
            self.last_url = url
            self.history.append(url)
            return self.http.request(method, url, data=data)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.last_url = path
        self.history.append(path)
        if method == "POST":
            return self.portal.post(path, data or {})
        return self.portal.get(path)

    def follow(self, method: str, url: str, data: dict[str, str] | None = None) -> Any:
        response = self._request(method, url, data)
        for _hop in range(15):
            status = getattr(response, "status_code", 0)
            if status not in (301, 302, 303, 307):
                return response
            location = response.headers["Location"]
            base = (
                self.last_url
                if self.last_url.startswith("http")
                else f"http://testserver{self.last_url}"
            )
            response = self._request("GET", urljoin(base, location))
        raise AssertionError("too many redirects")

    @staticmethod
    def text(response: Any) -> str:
        return str(response.text if hasattr(response, "text") else response.content.decode())

    def form(self, response: Any, fields: dict[str, str]) -> Any:
        """Submit the page's first form with these fields (and its hidden inputs)."""
        html = self.text(response)
        match = re.search(r'<form[^>]*action="([^"]*)"', html)
        assert match, html[:2000]
        action = urljoin(self.last_url, unescape(match.group(1)))
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
        return self.follow("POST", action, {**hidden, **fields})

    def sign_in(self, username: str, password: str, start: str = "/accounts/oidc/login/") -> Any:
        page = self.follow("GET", start)
        if self.last_url.startswith(self.provider_base) and "/interaction/" in self.last_url:
            return self.form(page, {"login": username, "password": password})
        return page
