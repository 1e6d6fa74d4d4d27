"""A local HTTP server (loopback, a free port) that speaks the documented request and response
formats of the parts of Slack's Web API and Mattermost's API v4 the assistant uses, and
records every request it gets.

Slack (https://api.slack.com/methods): POST /api/chat.postMessage and /api/chat.postEphemeral
with "Authorization: Bearer xoxb-…" and a JSON body; HTTP 200 with {"ok": true, "channel",
"ts", "message"} / {"ok": true, "message_ts"}, or {"ok": false, "error": "invalid_auth" |
"channel_not_found" | "not_in_channel" | "no_text"}. A slash command's response_url (here
/commands/…) takes {"response_type", "text"} and answers 200.

Mattermost (https://api.mattermost.com): POST /api/v4/posts {"channel_id", "message",
"root_id", "props"} -> 201 and the post; GET /api/v4/posts/{id}; GET /api/v4/users/me; POST
/api/v4/channels/direct [user_id, other_id] -> 201 and the channel; GET
/api/v4/channels/{id}. Errors are {"id", "message", "status_code", "request_id"}; a missing
or wrong token is 401.
"""

from __future__ import annotations

import http.server
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

SLACK_BOT_TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"  # noqa: S105
MATTERMOST_BOT_TOKEN = "6fqbw8hpa3f5ue5tr1mrpbhy9o"  # noqa: S105
MATTERMOST_BOT_ID = "bot0000000000000000000000b"
NOT_IN_CHANNEL = "C0NOTMEMBER"
DIRECT_CHANNELS = {"dm00000000000000000000000d"}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Messenger:
    base: str
    requests: list[Recorded] = field(default_factory=list)
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)  # Mattermost's, by id
    messages: list[dict[str, Any]] = field(default_factory=list)  # Slack's, as answered
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == path or r.path.startswith(path)]

    def wait_for(self, path: str, count: int = 1, timeout: float = 120.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls(path)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{path}: {len(self.calls(path))} calls, expected {count}")


_ids = itertools.count(1)


def _mm_id() -> str:
    return f"post{next(_ids):022d}"


def _handler(state: Messenger) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            with state.lock:
                state.requests.append(
                    Recorded(self.command, self.path, dict(self.headers.items()), body)
                )
            return body

        def _mm_error(self, status: int, message: str) -> None:
            self._reply(
                status,
                {
                    "id": "api.context.session_expired.app_error"
                    if status == 401
                    else "api.post.create_post.root_id.app_error",
                    "message": message,
                    "detailed_error": "",
                    "request_id": "5sa7pxtq4b8gjbe8n6ffkyyqfe",
                    "status_code": status,
                },
            )

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self._record()
            if self.headers.get("Authorization") != f"Bearer {MATTERMOST_BOT_TOKEN}":
                return self._mm_error(401, "Invalid or expired session, please login again.")
            if self.path == "/api/v4/users/me":
                return self._reply(
                    200, {"id": MATTERMOST_BOT_ID, "username": "onboarding", "is_bot": True}
                )
            if self.path.startswith("/api/v4/channels/"):
                channel = self.path.rsplit("/", 1)[-1]
                kind = "D" if channel in DIRECT_CHANNELS else "O"
                return self._reply(200, {"id": channel, "type": kind, "name": channel})
            if self.path.startswith("/api/v4/posts/"):
                post = state.posts.get(self.path.rsplit("/", 1)[-1])
                if post is None:
                    return self._mm_error(404, "Unable to get the post.")
                return self._reply(200, post)
            return self._mm_error(404, "Sorry, we could not find the page.")

        def do_POST(self) -> None:  # noqa: N802
            body = self._record()
            if self.path.startswith("/commands/"):  # a Slack slash command's response_url
                return self._reply(200, {"ok": True})
            if self.path.startswith("/api/chat."):
                return self._slack(body)
            if self.headers.get("Authorization") != f"Bearer {MATTERMOST_BOT_TOKEN}":
                return self._mm_error(401, "Invalid or expired session, please login again.")
            if self.path == "/api/v4/posts":
                if not isinstance(body, dict) or not body.get("channel_id"):
                    return self._mm_error(400, "Invalid channel_id parameter.")
                root = body.get("root_id") or ""
                if root and (root not in state.posts or state.posts[root]["root_id"]):
                    return self._mm_error(400, "Invalid RootId parameter.")
                post = {
                    "id": _mm_id(),
                    "create_at": int(time.time() * 1000),
                    "user_id": MATTERMOST_BOT_ID,
                    "channel_id": body["channel_id"],
                    "root_id": root,
                    "message": body.get("message", ""),
                    "props": body.get("props") or {},
                    "type": "",
                }
                state.posts[post["id"]] = post
                return self._reply(201, post)
            if self.path == "/api/v4/channels/direct":
                if not isinstance(body, list) or len(body) != 2:
                    return self._mm_error(400, "Invalid user_ids parameter.")
                channel = "dm00000000000000000000000d"
                return self._reply(201, {"id": channel, "type": "D", "name": "__".join(body)})
            return self._mm_error(404, "Sorry, we could not find the page.")

        def _slack(self, body: Any) -> None:
            if self.headers.get("Authorization") != f"Bearer {SLACK_BOT_TOKEN}":
                return self._reply(200, {"ok": False, "error": "invalid_auth"})
            if not isinstance(body, dict) or not body.get("channel"):
                return self._reply(200, {"ok": False, "error": "channel_not_found"})
            if not body.get("text"):
                return self._reply(200, {"ok": False, "error": "no_text"})
            if body["channel"] == NOT_IN_CHANNEL:
                return self._reply(200, {"ok": False, "error": "not_in_channel"})
            ts = f"{time.time():.6f}"
            if self.path == "/api/chat.postEphemeral":
                return self._reply(200, {"ok": True, "message_ts": ts})
            message = {"type": "message", "text": body["text"], "ts": ts, "bot_id": "B0BOT"}
            if body.get("thread_ts"):
                message["thread_ts"] = body["thread_ts"]
            with state.lock:
                state.messages.append(message)
            return self._reply(
                200, {"ok": True, "channel": body["channel"], "ts": ts, "message": message}
            )

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def messenger_server() -> Iterator[Messenger]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    state = Messenger(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
