"""proxy-config fed hostile input: nothing outside the temporary directory is read, written
or run, the answer is a clear error naming the line, and nothing hangs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from apps.scenarios.engine import runner
from apps.scenarios.engine.base import InputError
from apps.scenarios.tests.proxy_helpers import analyze, conf, line_of


@pytest.fixture
def tool_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The argv of every tool the analysis runs (the real runner still runs them)."""
    calls: list[list[str]] = []
    real: Callable[..., runner.ToolResult] = runner.run

    def recording(argv: list[str], *args: Any, **kwargs: Any) -> runner.ToolResult:
        calls.append(list(argv))
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(runner, "run", recording)
    return calls


def _refused(text: str, kind: str | None = None) -> InputError:
    with pytest.raises(InputError) as info:
        analyze(text, kind)
    return info.value


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("include /etc/shadow;", "/etc/shadow"),
        ("include /etc/nginx/../shadow;", "/etc/nginx/../shadow"),
        ("include ../../../etc/passwd;", "../../../etc/passwd"),
        ("include $document_root/x.conf;", "variable"),
    ],
)
def test_includes_outside_the_upload_are_refused_before_any_tool_runs(
    tool_runs: list[list[str]], line: str, needle: str
) -> None:
    text = f"events {{}}\nhttp {{\n    {line}\n}}\n"
    error = _refused(text)
    assert error.line == 3 and needle in error.message
    assert tool_runs == []


def test_load_module_is_refused_with_its_line(tool_runs: list[list[str]]) -> None:
    text = "load_module /tmp/evil.so;\nevents {}\n"
    error = _refused(text, "nginx")
    assert error.line == 1 and "load_module" in error.message and tool_runs == []


def test_haproxy_lua_and_outside_spoe_configs_are_refused(tool_runs: list[list[str]]) -> None:
    lua = _refused("global\n    lua-load /tmp/evil.lua\n", "haproxy")
    assert lua.line == 2 and "lua-load" in lua.message
    spoe = _refused(
        "backend b\n    filter spoe engine x config /etc/haproxy/spoe.conf\n", "haproxy"
    )
    assert spoe.line == 2 and "/etc/haproxy/spoe.conf" in spoe.message
    assert tool_runs == []


def test_files_named_by_the_config_are_neither_read_nor_written(tmp_path: Path) -> None:
    """Logs, pid and temp paths point into a directory anyone may write; a certificate path
    points at a readable file that is not a certificate. The check must pass (stand-ins were
    used) and leave the directory empty."""
    trap = tmp_path / "trap"
    trap.mkdir()
    trap.chmod(0o777)
    tmp_path.chmod(0o755)
    (trap / "not-a-cert.pem").write_text("canary: not a certificate\n")
    (trap / "not-a-cert.pem").chmod(0o644)
    text = conf(
        f"""
        pid {trap}/nginx.pid;
        error_log {trap}/error.log;
        events {{}}
        http {{
            access_log {trap}/access.log;
            proxy_temp_path {trap}/proxy;
            proxy_cache_path {trap}/cache keys_zone=c:1m;
            server {{
                listen 443 ssl;
                ssl_certificate {trap}/not-a-cert.pem;
                ssl_certificate_key {trap}/not-a-cert.pem;
            }}
        }}
        """
    )
    analysis = analyze(text)
    assert analysis.facts["checked"] is True
    assert sorted(p.name for p in trap.iterdir()) == ["not-a-cert.pem"]


def test_twenty_megabytes_are_refused_at_once() -> None:
    big = "events {}\n" + "# padding padding padding padding\n" * 620_000
    assert len(big.encode()) > 20 * 1024 * 1024
    started = time.monotonic()
    error = _refused(big)
    assert "MB" in error.message and time.monotonic() - started < 2


def test_deeply_nested_blocks_are_refused_naming_the_line(tool_runs: list[list[str]]) -> None:
    depth = 50_000
    text = "events {}\nhttp {\n" + "location / {\n" * depth + "}\n" * (depth + 1)
    started = time.monotonic()
    error = _refused(text)
    assert "nested deeper" in error.message and error.line == 34
    assert time.monotonic() - started < 5 and tool_runs == []


def test_an_unclosed_quote_or_brace_names_the_line() -> None:
    quote = _refused('events {}\nhttp {\n    add_header X "oops;\n}\n')
    assert quote.line == 3 and "quote" in quote.message
    brace = _refused("events {}\nhttp {\n    server {\n        listen 80;\n}\n")
    assert brace.line == 2 and "expecting" in brace.message


def test_includes_that_loop_are_refused_naming_the_line(tool_runs: list[list[str]]) -> None:
    assert _refused("events {}\nhttp {\n    include nginx.conf;\n}\n").line == 3
    text = conf(
        """
        ==> nginx.conf <==
        events {}
        http { include conf.d/*.conf; }

        ==> conf.d/a.conf <==
        include conf.d/b.conf;

        ==> conf.d/b.conf <==
        include conf.d/a.conf;
        """
    )
    error = _refused(text)
    assert "conf.d/a.conf -> conf.d/b.conf -> conf.d/a.conf" in error.message
    assert error.line == line_of(text, "include conf.d/a.conf") and tool_runs == []


def test_a_haproxy_line_longer_than_the_parser_takes_is_refused() -> None:
    text = "global\n    maxconn 10\ndefaults\n    description " + "x" * 70_000 + "\n"
    error = _refused(text, "haproxy")
    assert error.line == 4


def test_bundle_names_that_leave_the_config_directory_are_refused() -> None:
    text = "==> nginx.conf <==\nevents {}\n\n==> ../../etc/cron.d/x <==\n* * * * * root id\n"
    error = _refused(text, "nginx")
    assert error.line == 4 and "../../etc/cron.d/x" in error.message


# --- the command line -------------------------------------------------------------------


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "scenario", "analyze", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_exit_codes_and_json_carry_the_tools_results(tmp_path: Path) -> None:
    bad = tmp_path / "site.conf"
    bad.write_text(
        "events {}\nhttp {\n    server {\n        listen 80;\n        proxy_buffer 4k;\n    }\n}\n"
    )
    result = _cli("proxy-config", str(bad), "--json")
    assert result.returncode == 1, result.stderr
    out = json.loads(result.stdout)
    check = next(f for f in out["findings"] if f["rule"] == "nginx.check")
    assert check["line"] == 5 and 'unknown directive "proxy_buffer"' in check["message"]
    assert out["tools"][0]["tool"] == "nginx -t" and out["tools"][0]["exit"] == 1

    hostile = tmp_path / "evil.conf"
    hostile.write_text("events {}\nhttp {\n    include /etc/shadow;\n}\n")
    refused = _cli("proxy-config", str(hostile))
    assert (
        refused.returncode == 2 and "line 3" in refused.stderr and "/etc/shadow" in refused.stderr
    )

    haproxy = "defaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\n"
    good = _cli("proxy-config", "-", "--kind", "haproxy", stdin=haproxy)
    assert good.returncode == 0, good.stdout + good.stderr
    assert ": error [" not in good.stdout and "[haproxy.no-listener]" in good.stdout


def test_cli_refuses_a_twenty_megabyte_file(tmp_path: Path) -> None:
    big = tmp_path / "big.conf"
    big.write_bytes(b"events {}\n" + b"#" * (20 * 1024 * 1024))
    result = _cli("proxy-config", str(big))
    assert result.returncode == 2 and "MB" in result.stderr
