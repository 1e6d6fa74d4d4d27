"""A local HTTP server that replays recorded OpenSearch responses (data/opensearch/README.md).

No OpenSearch server can be installed here, so the client is tested against real response
bodies served over real HTTP: the test says which recorded answer each path gets, and the
server keeps every request it saw (method, path, headers, body) for the test to inspect.
Basic authentication is checked the way the Security plugin does: a wrong or missing
password gets its plain-text 401.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

DATA = Path(__file__).parent / "data" / "opensearch"
USER, PASSWORD = "opsdesk", "s3cret-pass"


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


@dataclass
class Recorded:
    """Answers by (method, path); every request seen."""

    routes: dict[tuple[str, str], tuple[int, bytes]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def answer(self, method: str, path: str, status: int, file_or_body: str | bytes) -> None:
        body = (DATA / file_or_body).read_bytes() if isinstance(file_or_body, str) else file_or_body
        self.routes[(method, path)] = (status, body)


def _handler(state: Recorded) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet test output
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            path = unquote(parts.path)
            state.seen.append(Seen(self.command, path, parts.query, dict(self.headers), body))
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="OpenSearch Security"')
                self.send_header("Content-Type", "text/plain; charset=UTF-8")
                self.end_headers()
                self.wfile.write(b"Unauthorized")
                return
            status, payload = state.routes.get(
                (self.command, path), (404, (DATA / "index_not_found.json").read_bytes())
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve
        do_PUT = _serve
        do_DELETE = _serve

    return Handler


@contextmanager
def serving() -> Iterator[Recorded]:
    state = Recorded()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
