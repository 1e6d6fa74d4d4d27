"""/readyz tells anonymous probes only the verdict; /metrics is limited by network and/or
token when configured, on the client address the proxy layer settled."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import httpx
import pytest
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_PATH = "/srv/opsdesk-secret-layout/qdrant"


def test_readyz_details_only_for_admins(
    client: Client, member_client: Client, admin_client: Client, settings: Any
) -> None:
    settings.QDRANT_PATH = SECRET_PATH  # named in the vector index check's detail
    for anonymous in (client, member_client):
        response = anonymous.get("/readyz")
        body = response.json()
        assert response.status_code in (200, 503)
        assert set(body) == {"status", "checks"}
        assert all(set(c) == {"ok", "required"} for c in body["checks"].values()), body
        assert "/" not in response.content.decode().replace("\\/", "")  # no path at all
    detailed = admin_client.get("/readyz").json()["checks"]
    assert all("detail" in c for c in detailed.values())
    assert client.post("/readyz").status_code == 405


def test_metrics_open_by_default_and_limited_when_configured(client: Client, settings: Any) -> None:
    assert client.get("/metrics").status_code == 200
    assert client.post("/metrics").status_code == 405
    settings.METRICS_ALLOWED_NETWORKS = [ip_network("10.0.0.0/8")]
    assert client.get("/metrics").status_code == 403  # the test client is 127.0.0.1
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="garbage").status_code == 403
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.METRICS_TOKEN = "scrape-token-123"
    for header in [
        "",
        "Bearer",
        "Bearer wrong",
        "Basic c2NyYXBlLXRva2VuLTEyMw==",
        "scrape-token-123",
    ]:
        response = client.get("/metrics", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"opsdesk_http" not in response.content
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123").status_code == 200
    # Both set: both are needed.
    settings.METRICS_ALLOWED_NETWORKS = [ip_network("10.0.0.0/8")]
    token = "Bearer scrape-token-123"
    assert client.get("/metrics", HTTP_AUTHORIZATION=token).status_code == 403
    ok = client.get("/metrics", REMOTE_ADDR="10.9.9.9", HTTP_AUTHORIZATION=token)
    assert ok.status_code == 200


async def test_a_forwarded_address_does_not_open_metrics(settings: Any) -> None:
    """Through the whole ASGI stack: a client outside the allowed network claiming an
    allowed address in X-Forwarded-For is refused; through a trusted proxy it is its real
    (proxy-appended) address that counts."""
    from portal.asgi import application

    settings.METRICS_ALLOWED_NETWORKS = [ip_network("10.0.0.0/8")]
    settings.TRUSTED_PROXIES = [ip_network("192.0.2.10/32")]

    async def get(peer: str, forwarded: str) -> int:
        transport = httpx.ASGITransport(app=application, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            response = await c.get("/metrics", headers={"X-Forwarded-For": forwarded})
            return response.status_code

    assert await get("198.51.100.7", "10.1.1.1") == 403
    assert await get("192.0.2.10", "10.1.1.1, 198.51.100.7") == 403
    assert await get("192.0.2.10", "198.51.100.7, 10.1.1.1") == 200
