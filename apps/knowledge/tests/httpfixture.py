"""A real HTTP server on a loopback address for connector tests, answering GET and POST from
a handler function (a 3xx status redirects to the body, as a Location; a POST's body is in
`handler.body`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], tuple[int, str, bytes]]


@contextmanager
def serve(
    route: Route, host: str = "127.0.0.1"
) -> Iterator[tuple[str, list[BaseHTTPRequestHandler]]]:
    seen: list[BaseHTTPRequestHandler] = []

    class Handler(BaseHTTPRequestHandler):
        body = b""

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.do_GET()

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            seen.append(self)
            status, content_type, body = route(self)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", body.decode())
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
