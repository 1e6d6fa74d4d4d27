"""The Cluster console page against real parts: the dev vLLM server, a portal server making
real gateway calls, and a real Prometheus scraping both (plus a backend on a closed port)."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.tokens import create_token
from apps.capacity import prom
from apps.inference import poller

pytestmark = pytest.mark.django_db(transaction=True)

# What runs on the dev server: google/gemma-3-270m (its config.json) on this 2-core host,
# described as a "GPU" so the planner can be compared with what the server measures.
PLANNED_DEV = {
    "fast": {
        "model": {
            "name": "gemma-3-270m",
            "num_hidden_layers": 18,
            "hidden_size": 640,
            "num_attention_heads": 4,
            "num_key_value_heads": 1,
            "head_dim": 256,
            "params_total": 268_098_176,
            "params_active": 268_098_176,
            "vocab_size": 262_144,
            "tie_word_embeddings": True,
        },
        "gpu": {"name": "dev CPU host", "memory_gb": 8, "bandwidth_gbs": 20, "bf16_tflops": 0.2},
        "weights": "bf16",
        "prompt_tokens": 64,
        "output_tokens": 24,
    }
}


def _live(client: Client) -> str:
    response = client.get(reverse("cluster:index"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def _charts(page: str) -> dict[str, Any]:
    raw = re.search(
        r'<script id="cluster-chart-data" type="application/json">(.*?)</script>', page, re.S
    )
    assert raw, "the live part carries the chart data"
    return json.loads(raw.group(1))


def _tile(page: str, name: str) -> str:
    match = re.search(rf'<article class="([^"]*)" data-backend="{name}"', page)
    assert match, f"no tile for {name}"
    return match.group(1)


def _load(portal: str, token: str, calls: int = 4) -> None:
    """Real chat completions through the portal's OpenAI-compatible API, two at a time."""

    def one(i: int) -> int:
        response = httpx.post(
            f"{portal}/v1/chat/completions",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "model": "fast",
                "messages": [{"role": "user", "content": f"Count to ten, take {i}."}],
                "max_tokens": 24,
            },
            timeout=120,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert all(code == 200 for code in pool.map(one, range(calls)))


def _wait_for_prometheus(
    url: str, promql: str, seconds: float = 30, between: Callable[[], None] | None = None
) -> float:
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=5) as http:
        while time.monotonic() < deadline:
            value = prom_query(http, url, promql)
            if value and not math.isnan(value):
                return value
            # A rate needs the counter to grow between two scrapes inside its window (a
            # quantile of rates that did not grow is NaN); the first load may have landed
            # before Prometheus' second scrape, or even its first.
            if between is not None:
                between()
            time.sleep(1)
    pytest.fail(f"Prometheus never answered {promql} with a value")


def prom_query(http: httpx.Client, url: str, promql: str) -> float | None:
    body = http.get(f"{url}/api/v1/query", params={"query": promql}).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_dashboard_from_prometheus(
    vllm: str, portal_server: str, prometheus: str, admin_user, admin_client: Client, settings
) -> None:
    settings.PROMETHEUS_URL = prometheus
    settings.CAPACITY_PLANNED = PLANNED_DEV
    poller.poll_now()  # the gateway's view: cpu-live healthy, dead-fast refused
    _token, raw = create_token(admin_user, "capacity-test")
    _load(portal_server, raw)
    live_sel = prom.selector("cpu-live", "fast", f"{vllm}/v1", "gemma-3-270m")
    _wait_for_prometheus(
        prometheus,
        prom.expr("ttft_p50", live_sel, "5m"),
        between=lambda: _load(portal_server, raw, 1),
    )
    _wait_for_prometheus(
        prometheus,
        prom.expr("tokens_per_s", live_sel),
        between=lambda: _load(portal_server, raw, 1),
    )
    # The portal's own gateway metrics reach Prometheus too.
    _wait_for_prometheus(prometheus, 'sum(opsdesk_llm_calls_total{outcome="complete"})')

    # Range queries step 15 s: wait until the chart has two points to draw a line between.
    deadline = time.monotonic() + 60
    while True:
        page = _live(admin_client)
        panels = {p["key"]: p for p in _charts(page)["panels"]}
        live_tps = next(s for s in panels["tokens_per_s"]["series"] if s["name"] == "cpu-live")
        if len(live_tps["points"]) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert 'data-source="prometheus"' in page
    # The live backend: green, with latency percentiles over 5 minutes from vLLM's histograms.
    assert "bad" not in _tile(page, "cpu-live").split()
    tile = page[page.index('data-backend="cpu-live"') :][:4000]
    assert re.search(r"<th>TTFT</th><td>\d+ ms</td>", tile)
    # The backend on a closed port: Prometheus says up == 0, the gateway says refused -> red.
    assert "bad" in _tile(page, "dead-fast").split()
    # Fast tier: 1 healthy of 2 -> the N+1 spare is gone, and the page says so.
    assert 'data-tier="fast" data-ha="no_spare"' in page
    assert "N+1" in page and 'role="alert"' in page
    # Charts receive points from Prometheus range queries.
    assert len(live_tps["points"]) >= 2 and max(v for _, v in live_tps["points"]) > 0
    ttft = next(s for s in panels["ttft_p95"]["series"] if s["name"] == "cpu-live")
    assert ttft["points"], "TTFT p95 points"
    # Planned against measured: the planner's rate for gemma on this host beside vLLM's ITL.
    row = re.search(r'data-tier="fast" data-planned="([\d.]+)" data-measured="([\d.]+)"', page)
    assert row, "planned and measured tokens/s per user for the fast tier"
    planned, measured = float(row.group(1)), float(row.group(2))
    assert planned > 0 and measured > 0


def test_dashboard_from_gateway_polling(
    vllm: str, portal_server: str, admin_user, admin_client: Client, settings
) -> None:
    settings.PROMETHEUS_URL = ""
    _token, raw = create_token(admin_user, "capacity-test")
    poller.poll_now()
    _load(portal_server, raw, calls=2)
    time.sleep(1.5)
    poller.poll_now()  # a second poll turns counters into tokens/s and histogram deltas

    page = _live(admin_client)
    assert 'data-source="gateway"' in page
    assert "bad" not in _tile(page, "cpu-live").split()
    assert "bad" in _tile(page, "dead-fast").split()
    assert 'data-tier="fast" data-ha="no_spare"' in page
    # Latency percentiles from the portal's own calls (LLMCall rows the portal server wrote).
    tile = page[page.index('data-backend="cpu-live"') :][:4000]
    assert re.search(r"<th>TTFT</th><td>\d+ ms</td>", tile)
    panels = {p["key"]: p for p in _charts(page)["panels"]}
    tps = next(s for s in panels["tokens_per_s"]["series"] if s["name"] == "cpu-live")
    assert tps["points"] and max(v for _, v in tps["points"]) > 0


def test_console_page_is_admin_only(
    admin_client: Client, member_client: Client, outsider_client: Client, client: Client
) -> None:
    url = reverse("cluster:index")
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url).status_code == 405
    assert member_client.get(url).status_code == 403
    assert outsider_client.get(url).status_code == 403
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and reverse("accounts:login") in anonymous["Location"]


def test_console_nav_lists_cluster_for_admins(admin_client: Client) -> None:
    page = admin_client.get(reverse("console:index")).content.decode()
    assert reverse("cluster:index") in page and "Кластер" in page


def test_grafana_dashboard_queries_parse_in_real_prometheus(prometheus: str) -> None:
    """Every PromQL of deploy/grafana/ is valid for the Prometheus the tests run."""
    from pathlib import Path

    board = json.loads(
        (
            Path(__file__).resolve().parents[3] / "deploy/grafana/opsdesk-llm-cluster.json"
        ).read_text()
    )
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert len(exprs) > 15
    with httpx.Client(timeout=5) as http:
        for expr in exprs:
            concrete = (
                expr.replace("$job", "vllm").replace("$instance", ".*").replace("$model", ".*")
            )
            body = http.get(f"{prometheus}/api/v1/query", params={"query": concrete}).json()
            assert body["status"] == "success", (expr, body)


def _poll_and_close() -> None:
    from django.db import connections

    try:
        poller.poll_now()
    finally:
        connections.close_all()  # this thread's connection, or the test database stays in use


def test_browser_sees_charts_and_live_updates(vllm: str, portal_server: str, admin_user) -> None:
    """In a real browser (Chromium): the charts are drawn from the points, and the live part
    refreshes by itself without a page reload."""
    from playwright.sync_api import sync_playwright

    admin_user.set_password("cluster-pass-123")
    admin_user.save(update_fields=["password"])
    poller.poll_now()
    time.sleep(1.2)
    poller.poll_now()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.goto(f"{portal_server}/accounts/login/?next=/admin-console/cluster/")
        page.fill("input[name=username]", admin_user.get_username())
        page.fill("input[name=password]", "cluster-pass-123")
        with page.expect_navigation():
            page.click("main button[type=submit]")
        assert page.url.endswith("/admin-console/cluster/")
        first = page.get_attribute("#cluster-live", "data-updated")
        page.wait_for_selector(
            "#cluster-charts figure[data-panel=running] path.cap-line", state="attached"
        )
        points = page.get_attribute(
            "#cluster-charts figure[data-panel=running] path[data-series=cpu-live]", "data-points"
        )
        assert points is not None and int(points) >= 2
        assert page.locator('article[data-backend="dead-fast"].bad').count() == 1
        page.evaluate("window.__marker = 1")  # gone if the page reloads
        # Playwright keeps an event loop in this thread; poll from another one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(_poll_and_close).result()
        # Polled from here: wait_for_function evaluates a string in the page, which the
        # Content-Security-Policy (no 'unsafe-eval') refuses.
        deadline = time.monotonic() + 15
        while page.get_attribute("#cluster-live", "data-updated") == first:
            assert time.monotonic() < deadline, "the live part did not refresh within 15 s"
            page.wait_for_timeout(200)
        assert page.evaluate("window.__marker") == 1
        page.wait_for_selector(
            "#cluster-charts figure[data-panel=running] path.cap-line", state="attached"
        )
        browser.close()
