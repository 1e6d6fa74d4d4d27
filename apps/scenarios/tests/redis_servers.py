"""Throwaway redis-server instances for the Redis scenario's tests, each on its own port and
in its own directory; the machine's own Redis (6379) is never touched."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import redis

from common.testing import free_port


class RedisServer:
    """`port`: a given port (a restart on the port an earlier server had), else a free one."""

    def __init__(self, *args: str, port: int | None = None) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (deploy/dev/system-packages.sh)")
        self.dir = Path(tempfile.mkdtemp(prefix="opsdesk-redis-"))
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [
                exe,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.dir),
                "--save", "",
                "--appendonly", "no",
                "--logfile", str(self.dir / "redis.log"),
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.password = args[args.index("--requirepass") + 1] if "--requirepass" in args else None
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, socket_timeout=30)

    def info(self, section: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.client().info(section))

    def commandstats(self) -> dict[str, int]:
        stats = self.info("commandstats")
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill does: no shutdown, nothing saved."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def running(*args: str) -> Iterator[RedisServer]:
    server = RedisServer(*args)
    try:
        yield server
    finally:
        server.stop()


# Lua busy loop: long enough to stand out in the slow log and the latency monitor. It runs for
# a fixed time, not a fixed count: on a fast idle machine a counted loop ended under the
# 100 ms latency-event threshold.
SLOW_SCRIPT = (
    "local i = 0 local t0 = redis.call('TIME') repeat i = i + 1 local t = redis.call('TIME') "
    "until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) >= 300000 return i"
)


def make_trouble(server: RedisServer) -> dict[str, int]:
    """The problems an on-call engineer meets: 100k keys read with KEYS, a big hash read with
    HGETALL, a slow Lua loop, and a full instance with noeviction refusing writes."""
    r = server.client()
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.mset({f"session:{i}:{j}": "x" * 20 for j in range(1000)})
    pipe.execute()
    for i in range(200):
        pipe.hset("big:hash", mapping={f"field:{i}:{j}": "v" * 32 for j in range(1000)})
    pipe.execute()
    r.keys("*")
    r.hgetall("big:hash")
    r.eval(SLOW_SCRIPT, 0)
    used = int(server.info("memory")["used_memory"])
    r.config_set("maxmemory", used + 2 * 1024 * 1024)
    r.config_set("maxmemory-policy", "noeviction")
    refused = 0
    for i in range(200):
        try:
            r.set(f"blob:{i}", b"z" * 100_000)
        except redis.exceptions.OutOfMemoryError:
            refused += 1
    return {"refused": refused}
