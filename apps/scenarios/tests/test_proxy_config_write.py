"""proxy-config writing configs from requests: intent told apart in Russian and English,
vetted templates filled with checked values only, the result checked by the real tool."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.conf import settings

from apps.scenarios.engine.base import Analysis, InputError
from apps.scenarios.proxy_config.output_check import check_config
from apps.scenarios.tests.proxy_helpers import analyze, conf


def write(request: str, kind: str | None = None) -> Analysis:
    return analyze(request, kind, task="write")


def test_the_load_balancer_request_from_the_team_becomes_a_checked_haproxy_config() -> None:
    analysis = write("балансировщик для трёх бэкендов с health check и sticky sessions")
    facts = analysis.facts
    assert facts["kind"] == "haproxy" and facts["ready"] is True
    assert facts["intent"]["features"] == ["load_balancer", "health_check", "sticky"]
    assert facts["tools"][0]["tool"] == "haproxy -c" and facts["tools"][0]["exit"] == 0
    config = facts["config"]
    assert "cookie SERVERID insert indirect nocache" in config
    assert "option httpchk GET /health" in config and "default-server check" in config
    servers = [ln.split() for ln in config.splitlines() if ln.strip().startswith("server ")]
    assert [s[2] for s in servers] == [
        "app-1.internal:8080",
        "app-2.internal:8080",
        "app-3.internal:8080",
    ]
    assert all(s[-2] == "cookie" for s in servers)  # every server sticky
    assert facts["intent"]["placeholders"] == ["backends", "domain"]
    assert analysis.findings == []
    # the explanation looks up the vendors' (English) documentation of what was built
    assert analysis.grounding == ["haproxy load balancer", "haproxy health check", "haproxy sticky"]


REQUESTS = [
    ("nginx reverse proxy for shop.example.com to 10.0.0.5:3000 with TLS and redirect to https",
     "nginx", {"reverse_proxy", "tls", "redirect_https"}),
    ("обратный прокси на nginx с websocket на /ws/ и ограничением 20 запросов в секунду",
     "nginx", {"reverse_proxy", "websocket", "rate_limit"}),
    ("раздача статики для docs.example.org из /var/www/docs со сжатием",
     "nginx", {"static", "gzip"}),
    ("HAProxy TLS termination for api.example.com, rate limit 50 rps, stats page",
     "haproxy", {"tls", "rate_limit", "stats"}),
    ("TCP балансировщик для PostgreSQL на двух нодах 10.0.0.11:5432 и 10.0.0.12:5432",
     "haproxy", {"load_balancer", "tcp"}),
    ("nginx load balancer for 4 backends with health checks",
     "nginx", {"load_balancer", "health_check"}),
    ("redis behind nginx, two nodes", "nginx", {"tcp", "load_balancer"}),
    ("редирект с http на https для portal.example.ru", "nginx", {"redirect_https", "tls"}),
    ("haproxy: websocket proxying with sticky sessions for chat.example.com",
     "haproxy", {"websocket", "sticky", "load_balancer"}),
]  # fmt: skip


@pytest.mark.parametrize(("request_text", "kind", "features"), REQUESTS)
def test_every_template_combination_passes_the_tool_and_the_review(
    request_text: str, kind: str, features: set[str]
) -> None:
    analysis = write(request_text)
    assert analysis.facts["kind"] == kind
    assert features <= set(analysis.facts["intent"]["features"])
    assert analysis.facts["ready"] is True, analysis.facts["tools"]
    # a vetted template draws no warning from gixy-ng or the rules, only notes
    assert [(f.rule, f.message) for f in analysis.findings if f.severity != "info"] == []


def test_values_come_from_the_request_and_nothing_else_does() -> None:
    analysis = write(
        "nginx reverse proxy for shop.example.com;include /etc/shadow; to 10.0.0.5:3000 "
        "and `evil{}` with tls"
    )
    config = analysis.facts["config"]
    assert "server_name shop.example.com;" in config and "server 10.0.0.5:3000" in config
    assert "/etc/shadow" not in config and "evil" not in config and "`" not in config
    assert analysis.facts["ready"] is True


def test_rate_and_websocket_path_are_taken_from_the_request() -> None:
    config = write("nginx proxy, websocket at /socket/live, limit 35 r/s").facts["config"]
    assert "rate=35r/s" in config and "location /socket/live/ {" in config


def test_the_kind_can_be_forced() -> None:
    analysis = write("load balancer with health checks", kind="nginx")
    assert analysis.facts["kind"] == "nginx" and analysis.facts["ready"] is True
    assert any("passively" in note for note in analysis.facts["notes"])


def test_a_request_that_names_nothing_buildable_is_refused() -> None:
    with pytest.raises(InputError, match="Could not tell what to build"):
        write("сделай красиво")
    with pytest.raises(InputError):
        write("")


def test_cli_writes_and_prints_the_checked_config_as_json() -> None:
    result = subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "scenario", "analyze",
         "proxy-config", "--write", "--json", "-"],
        input="nginx reverse proxy with tls for wiki.example.com",
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["ready"] is True and "server_name wiki.example.com;" in out["config"]


# --- checks of the model's config blocks ------------------------------------------------


def test_a_correct_block_from_the_model_passes() -> None:
    block = conf(
        """
        location /api/ {
            proxy_pass http://127.0.0.1:8080;
            proxy_connect_timeout 5s;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
        """
    )
    assert check_config(block, "nginx").verdict == "passed"
    haproxy = "backend app\n    server a1 10.0.0.1:80 check\n"
    assert check_config(haproxy, "haproxy").verdict == "passed"


def test_a_broken_block_fails_with_the_tools_message_and_line() -> None:
    block = "server {\n    listen 80;\n    proxy_buffer 4k;\n}\n"
    result = check_config(block, "")
    assert result.verdict == "failed" and result.tool == "nginx -t"
    assert 'unknown directive "proxy_buffer"' in result.message and "3" in result.message


def test_a_hostile_block_is_refused_and_other_blocks_are_not_checked() -> None:
    hostile = check_config("events {}\nhttp { include /etc/shadow; }\n", "nginx")
    assert hostile.verdict == "failed" and "/etc/shadow" in hostile.message
    assert check_config("print('hello')\n", "python").verdict == "unchecked"
