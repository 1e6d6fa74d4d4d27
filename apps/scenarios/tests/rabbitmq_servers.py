"""A real RabbitMQ node for the migration checklist's live pre-checks, started by the test on
its own ports, with its own node name, Erlang cookie, data and log directories, config file
and enabled-plugins file (the management plugin on its own port). The machine's own RabbitMQ
(5672, 25672, 15672) is never touched: nothing here talks to it or to its node name.

RABBITMQ_FEATURE_FLAGS chooses the feature flags a new node enables (docs: "How to Override
the List of Feature Flags to Enable on Initial Startup"), which is how a test gets a node with
stable flags disabled, as after an upgrade nobody finished.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from common.testing import free_port

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
CTL = Path("/usr/lib/rabbitmq/bin/rabbitmqctl")
USER, PASSWORD = "opsdesk-admin", "s3cret-mq-admin"
MACHINE_PORTS = {5672, 25672, 15672}


@dataclass
class RabbitNode:
    name: str
    port: int
    dist_port: int
    api_port: int
    cookie: str
    home: Path
    process: subprocess.Popen[bytes]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def api(
        self, method: str, path: str, body: Any = None, auth: tuple[str, str] = (USER, PASSWORD)
    ) -> httpx.Response:
        return httpx.request(method, f"{self.api_url}/api/{path}", json=body, auth=auth, timeout=30)


def _ports() -> tuple[int, int, int]:
    """Three ports nobody listens on now. Fixed ports collide by chance: they lie in the
    ephemeral range, where the machine's own RabbitMQ once held 41000 for its epmd link and
    the test's node stopped with eaddrinuse after its management API had answered."""
    ports: set[int] = set()
    while len(ports) < 3:
        port = free_port()
        if port not in MACHINE_PORTS:
            ports.add(port)
    port, dist_port, api_port = sorted(ports)
    return port, dist_port, api_port


def _as_rabbitmq() -> list[str]:
    if os.geteuid() == 0:
        pwd.getpwnam("rabbitmq")
        return ["runuser", "-u", "rabbitmq", "--"]
    return []


def ctl(node: RabbitNode, *args: str) -> str:
    """rabbitmqctl against the test's own node (its name and cookie), never the machine's."""
    result = subprocess.run(
        [
            *_as_rabbitmq(),
            "env",
            "-i",
            f"HOME={node.home}",
            "PATH=/usr/bin:/bin",
            str(CTL),
            "-n",
            node.name,
            "--erlang-cookie",
            node.cookie,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def _log_tail(home: Path) -> str:
    """The end of the node's console output and of its own log files."""
    logs = [home / "stdout.log", *sorted((home / "log").glob("*.log"))]
    return "\n".join(
        f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:]
        for path in logs
        if path.is_file()
    )


@contextmanager
def running(feature_flags: list[str]) -> Iterator[RabbitNode]:
    if not SERVER.exists():
        import pytest

        pytest.fail("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
    port, dist_port, api_port = _ports()
    slot = os.environ.get("OPSDESK_TEST_SLOT", "0") or "0"
    home = Path(tempfile.mkdtemp(prefix="opsdesk-rabbit-"))
    cookie = secrets.token_hex(16)
    (home / ".erlang.cookie").write_text(cookie)
    (home / ".erlang.cookie").chmod(0o600)
    (home / "enabled_plugins").write_text("[rabbitmq_management].\n")
    (home / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\n"
        f"management.tcp.port = {api_port}\n"
        "management.tcp.ip = 127.0.0.1\n"
        f"default_user = {USER}\n"
        f"default_pass = {PASSWORD}\n"
        "default_user_tags.administrator = true\n"
    )
    if os.geteuid() == 0:
        info = pwd.getpwnam("rabbitmq")
        home.chmod(0o755)
        for path in [home, *home.iterdir()]:
            os.chown(path, info.pw_uid, info.pw_gid)
    name = f"opsdesk-migration-{slot}@localhost"
    env = {
        "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(home),
        "RABBITMQ_NODENAME": name,
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(home / "pid"),
        "RABBITMQ_FEATURE_FLAGS": ",".join(feature_flags),
    }
    log = (home / "stdout.log").open("wb")
    process = subprocess.Popen(
        [*_as_rabbitmq(), "env", "-i", *(f"{k}={v}" for k, v in env.items()), str(SERVER)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    node = RabbitNode(name, port, dist_port, api_port, cookie, home, process)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if node.api("GET", "overview").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the test's RabbitMQ node did not start:\n" + _log_tail(home))
            time.sleep(0.5)
        try:
            yield node
        except httpx.TransportError as exc:
            # The node went away under a test: say how it ended, from its own log, before
            # the log is removed with its directory.
            raise RuntimeError(
                f"the test's RabbitMQ node stopped answering ({exc}; exit status "
                f"{process.poll()}):\n" + _log_tail(home)
            ) from exc
    finally:
        subprocess.run(
            [
                *_as_rabbitmq(),
                "env",
                "-i",
                f"HOME={home}",
                "PATH=/usr/bin:/bin",
                str(CTL),
                "-n",
                name,
                "--erlang-cookie",
                cookie,
                "stop",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # only the group this test started
            process.wait(timeout=10)
        log.close()
        shutil.rmtree(home, ignore_errors=True)
