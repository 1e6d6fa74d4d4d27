"""The shipped HAProxy and Nginx configs are valid for the real binaries (Debian packages)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1]


def _binary(name: str) -> str:
    path = shutil.which(name) or f"/usr/sbin/{name}"
    if not Path(path).exists():
        pytest.fail(
            f"{name} is not installed: make test installs it (deploy/dev/system-packages.sh)"
        )
    return path


def test_haproxy_config_is_valid() -> None:
    result = subprocess.run(
        [_binary("haproxy"), "-c", "-f", str(DEPLOY / "haproxy/haproxy.cfg")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (DEPLOY / "haproxy/haproxy.cfg").read_text()
    assert "timeout tunnel" in text  # websockets survive between heartbeats


def test_nginx_config_is_valid(tmp_path: Path) -> None:
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp_path};\n"
        f" include {DEPLOY / 'nginx/opsdesk.conf'};\n}}\n"
    )
    result = subprocess.run(
        [_binary("nginx"), "-t", "-c", str(main)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    text = (DEPLOY / "nginx/opsdesk.conf").read_text()
    assert "proxy_buffering off" in text and "proxy_read_timeout 1h" in text
