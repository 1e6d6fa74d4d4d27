"""POST /hooks/alertmanager/: Alertmanager's (v4) and Grafana's webhook.

The answer comes in milliseconds, whatever the storm: the token is checked from a
per-process cache, the body is validated on the event loop, and the calls that arrive
together are stored as received in one INSERT and one commit on a database thread of this
module, then their work (deduplication, triage, messages) is queued as one job (jobs.py).
Refusals say what is wrong: 401 for a missing or wrong token, 413 over
ALERT_WEBHOOK_MAX_BYTES (before the body is read), 400 naming the field or the JSON position;
Alertmanager logs the answer and retries on 5xx only.

The ASGI entry (asgi_app, mounted in portal/asgi.py) serves the path without Django's
middleware, none of which a bearer-token webhook needs; the Django view serves the same path
for the test client and WSGI, through the same accept().
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connections, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import split_domain_port, validate_host
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import Counter

from apps.scenarios.alert_triage import jobs, payload, tokens
from apps.scenarios.alert_triage.models import AlertPayload
from apps.scenarios.engine.base import InputError
from common import metrics

log = logging.getLogger(__name__)

PATH = "/hooks/alertmanager/"
ROUTE = "alert_webhook"  # the URL name, and the route label on /metrics
RECEIVED = Counter(
    "opsdesk_alerts_received_total", "Alerts accepted by the webhook", ["source", "status"]
)
REFUSED = Counter("opsdesk_alert_webhook_refused_total", "Webhook calls refused", ["reason"])
# Bodies up to this size are parsed on the event loop; larger ones on the database thread,
# so a 5 MB storm payload does not hold up every other call for its parse.
PARSE_INLINE_BYTES = 256 * 1024
BATCH_LIMIT = 500  # calls stored in one INSERT at most

# One thread with a kept-open connection (no connect per call; with CONN_MAX_AGE 0 Django's
# own sync_to_async path would open one for each webhook).
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alert-webhook-db")


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _refuse(status: int, reason: str, message: str, field: str = "", **headers: str) -> Reply:
    REFUSED.labels(reason).inc()
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return Reply(status, body, dict(headers))


def _call[R](fn: Callable[..., R], *args: Any) -> R:
    try:
        return fn(*args)
    except DatabaseError:
        connections.close_all()  # reconnect on the next call
        raise


async def _db[R](fn: Callable[..., R], *args: Any) -> R:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor, functools.partial(_call, fn, *args))


def close_connections() -> None:
    """Close the webhook thread's connection (tests, before the database is dropped)."""
    _executor.submit(connections.close_all).result(timeout=10)


def _parse(body: bytes) -> tuple[payload.Notification, dict[str, Any]]:
    data = payload.json_body(body)
    return payload.parse(data), data


@dataclass
class _Pending:
    notification: payload.Notification
    data: dict[str, Any]
    token_id: int
    base_url: str
    future: asyncio.Future[int]


class _Writer:
    """Stores the calls of one event loop in batches: while a batch is being written, the
    calls that arrive wait and go in the next one (one INSERT, one commit for all)."""

    def __init__(self) -> None:
        self.waiting: list[_Pending] = []
        self.running = False

    async def store(self, pending: _Pending) -> int:
        self.waiting.append(pending)
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await pending.future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:BATCH_LIMIT], self.waiting[BATCH_LIMIT:]
                try:
                    ids = await _db(_write, batch)
                except Exception as exc:
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(exc)
                    continue
                for item, pk in zip(batch, ids, strict=True):
                    if not item.future.done():
                        item.future.set_result(pk)
        finally:
            self.running = False


def _write(batch: list[_Pending]) -> list[int]:
    rows = [
        AlertPayload(
            token_id=p.token_id,
            kind=p.notification.kind,
            receiver=p.notification.receiver,
            group_key=p.notification.group_key,
            status=p.notification.status,
            alert_count=len(p.notification.alerts),
            truncated_alerts=p.notification.truncated_alerts,
            body=p.data,
            base_url=p.base_url[:300],
        )
        for p in batch
    ]
    with transaction.atomic():
        AlertPayload.objects.bulk_create(rows)
    for token_id in {p.token_id for p in batch}:
        tokens.touch(token_id)
    ids = [int(row.pk) for row in rows]
    jobs.submit("alert_triage.process_many", ids)
    return ids


_writers: MutableMapping[asyncio.AbstractEventLoop, _Writer] = {}


def _writer() -> _Writer:
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        # Each event loop has its own (the server's one; a WSGI test server makes a loop per
        # request); the map forgets loops that are closed.
        for old in [k for k in _writers if k.is_closed()]:
            del _writers[old]
        writer = _writers[loop] = _Writer()
    return writer


async def accept(
    method: str,
    authorization: str | None,
    declared: int | None,
    read: Callable[[int], Awaitable[bytes | None]],
    base_url: str,
) -> Reply:
    """The webhook's answer. `read(limit)` gives the body, or None when it is over `limit`."""
    if method != "POST":
        return _refuse(405, "method", "only POST is accepted", Allow="POST")
    fresh, token_id = tokens.cached(authorization)
    if not fresh:
        token_id = await _db(tokens.check, authorization)
    if token_id is None:
        return _refuse(
            401,
            "token",
            "missing or unknown bearer token (Authorization: Bearer oda_…)",
            **{"WWW-Authenticate": 'Bearer realm="opsdesk-alerts"'},
        )
    limit = settings.ALERT_WEBHOOK_MAX_BYTES
    if declared is not None and declared > limit:
        return _refuse(413, "size", f"the body is {declared} bytes; at most {limit} are accepted")
    body = await read(limit)
    if body is None:
        return _refuse(413, "size", f"the body is over {limit} bytes, the most accepted")
    try:
        if len(body) <= PARSE_INLINE_BYTES:
            notification, data = _parse(body)
        else:
            notification, data = await _db(_parse, body)
    except InputError as exc:
        return _refuse(400, "invalid", exc.message, field=exc.field)
    loop = asyncio.get_running_loop()
    stored = await _writer().store(
        _Pending(notification, data, token_id, base_url, loop.create_future())
    )
    for alert in notification.alerts:
        RECEIVED.labels(notification.kind, alert.status).inc()
    return Reply(200, {"status": "accepted", "payload": stored, "alerts": len(notification.alerts)})


# --- Django view (test client, WSGI) ---------------------------------------------------------


@csrf_exempt
@login_not_required
async def webhook(request: HttpRequest) -> HttpResponse:
    try:
        declared: int | None = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = None

    async def read(limit: int) -> bytes | None:
        body = request.body
        return None if len(body) > limit else body

    reply = await accept(
        request.method or "",
        request.headers.get("Authorization"),
        declared,
        read,
        request.build_absolute_uri("/").rstrip("/"),
    )
    return JsonResponse(reply.body, status=reply.status, headers=reply.headers)


# --- ASGI entry (the running portal) ---------------------------------------------------------


def _base_url(scope: dict[str, Any], headers: dict[str, str]) -> str | None:
    """scheme://host of the call, or None when the host is not one the portal serves."""
    host = headers.get("host", "")
    domain, _port = split_domain_port(host)
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    if not domain or not validate_host(domain, allowed):
        return None
    scheme = scope.get("scheme", "http")
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy and headers.get("x-forwarded-proto") == proxy[1]:
        scheme = "https"
    return f"{scheme}://{host}"


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    started = time.perf_counter()
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    base_url = _base_url(scope, headers)
    try:
        declared: int | None = int(headers["content-length"])
    except (KeyError, ValueError):
        declared = None

    async def read(limit: int) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None  # the rest is not read: the server closes the connection
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    if base_url is None:
        reply = _refuse(400, "host", f"host {headers.get('host', '')!r} is not in ALLOWED_HOSTS")
    else:
        try:
            reply = await accept(
                scope["method"], headers.get("authorization"), declared, read, base_url
            )
        except Exception:
            log.exception("alert webhook failed")
            reply = Reply(500, {"error": "the alert could not be stored; retry"})
    data = json.dumps(reply.body).encode()
    out = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    out += [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
    await send({"type": "http.response.start", "status": reply.status, "headers": out})
    await send({"type": "http.response.body", "body": data})
    metrics.LATENCY.labels(scope["method"], ROUTE).observe(time.perf_counter() - started)
    metrics.REQUESTS.labels(scope["method"], ROUTE, str(reply.status)).inc()


def mount(app: Any) -> Callable[..., Awaitable[None]]:
    """The portal's HTTP application with this path served by asgi_app."""

    async def router(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in (PATH, PATH.rstrip("/")):
            await asgi_app(scope, receive, send)
        else:
            await app(scope, receive, send)

    return router
