"""The one way scenarios run external tools (nginx -t, haproxy -c, ansible-lint, amtool, …).

Everything a checker reads is hostile: a pasted config can `include /etc/shadow`, a playbook
can `lookup('pipe', …)`, a file can be 50 MB or make a tool loop forever. So every run gets:
- a fresh temporary directory holding only the files the caller wrote (relative names only),
  removed afterwards; the tool's working directory, HOME and TMPDIR;
- a cleared environment (PATH to system and the portal's own tools, C.UTF-8 locale): none of
  the portal's secrets or settings reach the tool;
- a wall-clock timeout that kills the whole process group, and CPU, memory, file-size and
  process limits (prlimit);
- output read through files and capped, so a tool that prints gigabytes costs a few MB;
- no network where the kernel allows it (a new network namespace with no interfaces up);
- never root: a portal started as root runs the tool as SCENARIO_TOOL_USER (default nobody),
  which cannot read the portal's var/ directory (secret key, SQLite database).
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_FILES_BYTES = 8 * 1024 * 1024
FILE_SIZE_LIMIT = 64 * 1024 * 1024  # any single file a tool writes, its output included


class ToolMissing(RuntimeError):
    """The tool is not installed where the portal runs."""

    def __init__(self, tool: str) -> None:
        self.tool = tool
        super().__init__(f"{tool} is not installed on the portal server")


class UnsafeInput(ValueError):
    """A file name or size the runner refuses (absolute path, '..', too large)."""


@dataclass(frozen=True)
class ToolResult:
    tool: str
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool
    seconds: float
    workdir: str  # removed by now; callers strip it from messages they show

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def clean(self, text: str) -> str:
        """The tool's text with the temporary directory's path taken out."""
        return text.replace(self.workdir.rstrip("/") + "/", "").replace(self.workdir, ".")


def tool_path() -> str:
    # The portal's own environment first, for tools installed from PyPI (ansible-lint, gixy).
    return f"{Path(sys.executable).parent}:{SYSTEM_PATH}"


def find(tool: str) -> str | None:
    return shutil.which(tool, path=tool_path())


def installed(tool: str) -> bool:
    return find(tool) is not None


def _sandbox_ids() -> tuple[int, int] | None:
    """(uid, gid) to run tools as, when the portal itself runs as root."""
    if os.geteuid() != 0:
        return None
    name = getattr(settings, "SCENARIO_TOOL_USER", "nobody") or "nobody"
    entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        raise RuntimeError("SCENARIO_TOOL_USER must not be root")
    return entry.pw_uid, entry.pw_gid


@functools.cache
def _can_unshare(as_root: bool) -> bool:
    """Whether this kernel lets us give a tool an empty network namespace."""
    cmd = ["unshare", "--net", "true"] if as_root else ["unshare", "--user", "--net", "true"]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=5, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or any(p in ("..", "") for p in path.parts) or "\x00" in name:
        raise UnsafeInput(f"refused file name {name!r}: only plain relative names")
    return path


def _write_files(workdir: Path, files: Mapping[str, str | bytes]) -> None:
    total = 0
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        total += len(data)
        if total > MAX_FILES_BYTES:
            raise UnsafeInput(f"the files are larger than {MAX_FILES_BYTES // 1048576} MB")
        target = workdir / _safe_name(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL|O_NOFOLLOW: a name written twice or through a link is refused, never followed.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def _read_capped(path: Path, cap: int) -> tuple[str, bool]:
    with path.open("rb") as fh:
        data = fh.read(cap + 1)
    return data[:cap].decode("utf-8", errors="replace"), len(data) > cap


def run(
    argv: Sequence[str],
    files: Mapping[str, str | bytes] | None = None,
    *,
    timeout: float = 20.0,
    max_output: int = 512 * 1024,
    memory_mb: int = 2048,
    env: Mapping[str, str] | None = None,
) -> ToolResult:
    """Run argv[0] (looked up on the tool path) on `files` in a fresh sandbox directory.

    "{dir}" in argv and env values stands for that directory. Raises ToolMissing when the
    tool is not installed and UnsafeInput for refused file names or sizes."""
    tool = argv[0]
    exe = find(tool)
    if exe is None:
        raise ToolMissing(tool)
    ids = _sandbox_ids()
    base = getattr(settings, "SCENARIO_TOOL_TMP", "") or None
    workdir = Path(tempfile.mkdtemp(prefix="opsdesk-tool-", dir=base))
    outdir = Path(tempfile.mkdtemp(prefix="opsdesk-out-", dir=base))
    try:
        _write_files(workdir, files or {})
        if ids is not None:
            _chown_tree(workdir, *ids)
        wd = str(workdir)
        args = [exe, *(a.replace("{dir}", wd) for a in argv[1:])]
        limits = [
            "prlimit",
            f"--cpu={int(timeout) + 2}",
            f"--as={memory_mb * 1024 * 1024}",
            f"--fsize={FILE_SIZE_LIMIT}",
            "--nofile=256",
            "--core=0",
        ]
        wrapper: list[str] = []
        if ids is not None:
            limits.append("--nproc=256")  # per user: counts this user's processes only
            if _can_unshare(True):
                wrapper += ["unshare", "--net", "--"]
            uid, gid = ids
            wrapper += ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
            wrapper += ["--no-new-privs", "--"]
        elif _can_unshare(False):
            wrapper += ["unshare", "--user", "--net", "--"]
        cmd = [*limits, "--", *wrapper, *args]
        child_env = {
            "PATH": tool_path(),
            "HOME": wd,
            "TMPDIR": wd,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }
        child_env.update({k: v.replace("{dir}", wd) for k, v in (env or {}).items()})
        out_path, err_path = outdir / "stdout", outdir / "stderr"
        started = time.monotonic()
        timed_out = False
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                cmd,
                cwd=wd,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                close_fds=True,
                start_new_session=True,  # its own process group, killed whole at the timeout
            )
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                # The group may have exited between the timeout and the kill.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        seconds = time.monotonic() - started
        stdout, cut_out = _read_capped(out_path, max_output)
        stderr, cut_err = _read_capped(err_path, max_output)
        return ToolResult(
            tool=tool,
            returncode=None if timed_out else proc.returncode,
            stdout=stdout,
            stderr=stderr,
            timed_out=timed_out,
            truncated=cut_out or cut_err,
            seconds=seconds,
            workdir=wd,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(outdir, ignore_errors=True)
