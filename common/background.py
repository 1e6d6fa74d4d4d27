"""Threads a process runs its own jobs in when no broker takes them (local mode, a broker
that is away), and a way for tests and benches to wait for them."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Background:
    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def run(self, target: Callable[[], object], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        # Started before it is listed: a job may start the next one from its own thread
        # while wait() reads the list, and a listed thread not yet started cannot be joined.
        thread.start()
        with self._lock:
            self._threads[:] = [t for t in self._threads if t.is_alive()] + [thread]

    def wait(self, timeout: float) -> bool:
        """Join the threads running now; True when all of them finished in time."""
        with self._lock:
            running = list(self._threads)
        for thread in running:
            thread.join(timeout)
        return not any(t.is_alive() for t in running)
