"""The sandboxed tool runner, fed hostile input: nothing escapes, nothing hangs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.conf import settings

from apps.scenarios.engine import runner


def test_a_tool_reads_only_the_files_it_was_given() -> None:
    result = runner.run(["cat", "nginx.conf"], {"nginx.conf": "events {}\n"})
    assert result.ok and result.stdout == "events {}\n"


@pytest.mark.parametrize("name", ["/etc/passwd", "../escape.conf", "a/../../b", "", "x\x00y"])
def test_file_names_that_leave_the_directory_are_refused(name: str) -> None:
    with pytest.raises(runner.UnsafeInput):
        runner.run(["cat", "x"], {name: "x"})


def test_fifty_megabytes_of_input_is_refused_before_anything_runs() -> None:
    with pytest.raises(runner.UnsafeInput, match="larger than"):
        runner.run(["cat", "big"], {"big": b"x" * (50 * 1024 * 1024)})


def test_a_tool_that_hangs_is_killed_at_the_timeout_with_its_children() -> None:
    started = time.monotonic()
    # The shell's child would keep the pipe open if only the shell were killed.
    result = runner.run(["bash", "-c", "sleep 300 & sleep 300"], timeout=1.0)
    assert result.timed_out and result.returncode is None and not result.ok
    assert time.monotonic() - started < 10


def test_endless_output_is_capped() -> None:
    result = runner.run(["yes", "spam"], timeout=10.0, max_output=4096)
    assert result.truncated and len(result.stdout) == 4096
    assert not result.ok  # stopped by the file-size limit or the timeout, never by memory


def test_the_environment_is_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSDESK_CANARY_SECRET", "must-not-leak")
    result = runner.run(["env"])
    assert "must-not-leak" not in result.stdout
    assert "DATABASE_URL" not in result.stdout and "SECRET_KEY" not in result.stdout
    assert result.clean(result.stdout).count("HOME=.") == 1


def test_a_tool_never_runs_as_root_and_cannot_read_the_portals_secrets() -> None:
    result = runner.run(["id", "-u"])
    assert result.ok and result.stdout.strip() != "0"
    secret = Path(settings.VAR_DIR) / "secret_key"
    assert secret.exists()
    for target in (secret, Path("/etc/shadow")):
        read = runner.run(["cat", str(target)])
        assert not read.ok and read.stdout == "", target
        assert "Permission denied" in read.stderr


def test_a_tool_has_no_network() -> None:
    # The machine's own Redis listens here; from the sandbox it must be unreachable.
    result = runner.run(["bash", "-c", "echo PING > /dev/tcp/127.0.0.1/6379 && echo reached"])
    assert "reached" not in result.stdout and not result.ok


def test_the_temporary_directory_is_removed() -> None:
    result = runner.run(["pwd"], {"a.conf": "x"})
    assert not os.path.exists(result.workdir)


def test_a_missing_tool_says_it_is_not_installed() -> None:
    with pytest.raises(runner.ToolMissing, match="not-a-real-checker is not installed"):
        runner.run(["not-a-real-checker", "-t"])
