"""The proxy-config page: review and write through the engine's page, the tools' results
beside the findings, hostile input refused with the line, the checks of the model's blocks."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.accounts.tokens import create_token
from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis
from apps.scenarios.engine.checks import Block, Verdict
from apps.scenarios.models import Run

pytestmark = pytest.mark.django_db

URL = reverse("scenarios:page", args=["proxy-config"])
HAPROXY = """global
    maxconn 1000
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend web
    bind :80
    default_backend app
backend app
    server a1 10.0.0.1:8080
    server a2 10.0.0.2:8080
"""


def test_the_form_offers_review_and_write_and_the_kind(member_client: Client) -> None:
    html = member_client.get(URL).content.decode()
    assert 'name="task"' in html and 'value="write"' in html and 'name="kind"' in html
    assert "Написать конфигурацию по запросу" in html  # Russian by default
    english = member_client.get(URL, headers={"Accept-Language": "en"}).content.decode()
    assert "Write a config from a request" in english or "Написать" in english


def test_a_haproxy_review_shows_the_tools_result_beside_the_findings(
    member_client: Client, member
) -> None:
    response = member_client.post(URL, {"mode": "paste", "text": HAPROXY, "kind": "haproxy"})
    assert response.status_code == 302
    run = Run.objects.get(user=member)
    assert run.params == {"task": "", "kind": "haproxy"}
    check = next(f for f in run.findings if f["rule"] == "haproxy.no-health-check")
    assert check["line"] == 12
    page = member_client.get(response["Location"]).content.decode()
    assert 'id="tool-runs"' in page and "haproxy -c" in page and "принят" in page
    assert 'href="#L12"' in page


def test_writing_from_a_request_shows_the_checked_config(member_client: Client, member) -> None:
    request = "балансировщик для трёх бэкендов с health check и sticky sessions"
    response = member_client.post(URL, {"mode": "paste", "text": request, "task": "write"})
    assert response.status_code == 302
    run = Run.objects.get(user=member)
    assert run.facts["ready"] is True and run.facts["kind"] == "haproxy" and not run.failed
    page = member_client.get(response["Location"]).content.decode()
    assert 'id="generated-config"' in page and "cookie SERVERID insert" in page
    assert 'id="write-verdict"' in page and "verdict-passed" in page
    assert "балансировщик, проверки здоровья, привязка сессий; 3 бэкенда" in page
    assert "«балансир», «health check», «sticky»" in page  # the words, in a stable order


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("events {}\nhttp {\n    include /etc/shadow;\n}\n", 3, "/etc/shadow"),
        ("load_module /usr/lib/nginx/modules/evil.so;\nevents {}\n", 1, "load_module"),
        ("global\n    lua-load /etc/haproxy/x.lua\ndefaults\n    mode http\n", 2, "lua-load"),
        (
            "events {}\nhttp {\n" + "location / {\n" * 5000 + "}\n" * 5001,
            34,
            "32",
        ),
    ],
)
def test_hostile_configs_are_refused_on_the_page_naming_the_line(
    member_client: Client, text: str, line: int, words: str
) -> None:
    started = time.monotonic()
    response = member_client.post(URL, {"mode": "paste", "text": text})
    assert response.status_code == 400 and not Run.objects.exists()
    page = response.content.decode()
    assert f"Строка {line}:" in page and words in page
    assert time.monotonic() - started < 10


def test_a_twenty_megabyte_file_on_the_page_is_refused_at_once(member_client: Client) -> None:
    big = b"events {}\n" + b"#" * (20 * 1024 * 1024)
    started = time.monotonic()
    upload = SimpleUploadedFile("nginx.conf", big)
    response = member_client.post(URL, {"mode": "upload", "upload": upload})
    assert "20.0 МБ" in response.content.decode() and not Run.objects.exists()
    # pasted, it is over the request size limit: refused before any form or tool sees it
    pasted = member_client.post(URL, {"mode": "paste", "text": big.decode()})
    assert pasted.status_code == 400 and not Run.objects.exists()
    assert time.monotonic() - started < 15


def test_a_request_that_names_nothing_is_refused_on_the_text_field(member_client: Client) -> None:
    response = member_client.post(URL, {"mode": "paste", "text": "сделай", "task": "write"})
    assert response.status_code == 400 and "Не удалось понять" in response.content.decode()


def test_another_users_run_is_not_found(
    member_client: Client, outsider_client: Client, member
) -> None:
    member_client.post(URL, {"mode": "paste", "text": HAPROXY})
    run = Run.objects.get(user=member)
    url = reverse("scenarios:run", args=["proxy-config", run.pk])
    assert outsider_client.get(url).status_code == 404
    assert member_client.get(url).status_code == 200
    assert member_client.delete(URL).status_code == 405


def test_the_api_writes_with_the_task_param(member) -> None:
    token = create_token(member, "ci")[1]
    response = Client().post(
        "/api/scenarios/proxy-config/analyze",
        data={
            "text": "nginx reverse proxy with tls for wiki.example.com",
            "params": {"task": "write"},
        },
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ready"] is True and "server_name wiki.example.com;" in body["config"]
    bad = Client().post(
        "/api/scenarios/proxy-config/analyze",
        data={"text": "x", "params": {"task": "deploy"}},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )
    assert bad.status_code == 400


def _analysis(kind: str) -> Analysis:
    return Analysis([], facts={"kind": kind, "task": "review"})


def test_the_models_config_blocks_are_checked_by_the_real_tool() -> None:
    scenario = registry.get("proxy-config")
    good = Block(0, "nginx", "location / {\n    proxy_pass http://127.0.0.1:8080;\n}\n", 3)
    passed = scenario.check_block(good, _analysis("nginx"))
    assert passed is not None and passed.verdict == Verdict.PASSED and passed.tool == "nginx -t"
    broken = Block(1, "", "server {\n    listen 80;\n    proxy_buffer 4k;\n}\n", 9)
    failed = scenario.check_block(broken, _analysis("nginx"))
    assert failed is not None and failed.verdict == Verdict.FAILED
    assert 'unknown directive "proxy_buffer"' in failed.message
    # an unlabelled HAProxy fragment of an HAProxy run is checked by haproxy -c
    backend = Block(2, "", "backend app\n    server a1 10.0.0.1:80 check\n", 20)
    checked = scenario.check_block(backend, _analysis("haproxy"))
    assert checked is not None and checked.verdict == Verdict.PASSED
    assert checked.tool == "haproxy -c"
    assert scenario.check_block(Block(3, "python", "print(1)\n", 30), _analysis("nginx")) is None
