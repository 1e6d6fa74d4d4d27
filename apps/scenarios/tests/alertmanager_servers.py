"""A real Alertmanager and a real Prometheus (Debian's packages) for the alert-triage tests,
each on a free loopback port with its own configuration and data directory."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from common.testing import free_port

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
PROMETHEUS = "/usr/bin/prometheus"
# The package's own notification templates: without them Alertmanager cannot render any
# notification (see /work notes on the Debian package).
DEFAULT_TEMPLATE = "/usr/share/prometheus/alertmanager/default.tmpl"


def _need(binary: str, package: str) -> None:
    if not Path(binary).exists() or shutil.which("amtool") is None:
        pytest.fail(
            f"{binary} is missing: install Debian's {package} "
            "(`make system-packages` or `bash deploy/dev/system-packages.sh`)"
        )


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{what} not ready after 60 s: {log.read_text()[-2000:]}")


@contextmanager
def alertmanager(
    workdir: Path,
    webhook_url: str,
    token: str,
    group_by: tuple[str, ...] = ("alertname", "cluster"),
) -> Iterator[str]:
    """Alertmanager routing every alert to the portal's webhook with a bearer token, with
    waits of a second so a test sees grouping, resolves and re-fires quickly."""
    _need(ALERTMANAGER, "prometheus-alertmanager")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = workdir / "alertmanager.yml"
    config.write_text(
        f"""route:
  receiver: opsdesk
  group_by: [{", ".join(group_by)}]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: opsdesk
  webhook_configs:
  - url: {webhook_url}
    send_resolved: true
    max_alerts: 0
    http_config:
      authorization:
        credentials: {token}
templates:
- {DEFAULT_TEMPLATE}
"""
    )
    check = subprocess.run(
        ["amtool", "check-config", str(config)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    log = workdir / "alertmanager.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # a single instance: no gossip port
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{url}/-/ready", proc, log, "alertmanager")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def amtool(url: str, *args: str) -> None:
    """`amtool alert add …` against the test's Alertmanager."""
    result = subprocess.run(
        ["amtool", f"--alertmanager.url={url}", "alert", "add", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@contextmanager
def prometheus(workdir: Path, alertmanager_url: str, rules: str) -> Iterator[str]:
    """Prometheus evaluating `rules` every second and sending what fires to Alertmanager."""
    _need(PROMETHEUS, "prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (workdir / "rules.yml").write_text(rules)
    config = workdir / "prometheus.yml"
    config.write_text(
        f"""global:
  evaluation_interval: 1s
  scrape_interval: 1s
rule_files:
- {workdir / "rules.yml"}
alerting:
  alertmanagers:
  - static_configs:
    - targets: ["{alertmanager_url.removeprefix("http://")}"]
"""
    )
    log = workdir / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                # Its links (the alerts' generatorURL) name this address, not the host name.
                f"--web.external-url=http://127.0.0.1:{port}",
                # The first sends can precede the discovery of Alertmanager and be dropped;
                # resend each second instead of each minute.
                "--rules.alert.resend-delay=1s",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{url}/-/ready", proc, log, "prometheus")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def prometheus_with_history(workdir: Path, openmetrics: str) -> Iterator[str]:
    """Prometheus serving past samples: `openmetrics` (ending in `# EOF`) is turned into TSDB
    blocks by `promtool tsdb create-blocks-from openmetrics` in the data directory before
    Prometheus starts on it, scraping nothing."""
    _need(PROMETHEUS, "prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    source = workdir / "history.om"
    source.write_text(openmetrics)
    built = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n")
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=30d",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{url}/-/ready", proc, log, "prometheus")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
