"""Runs inside the tool sandbox (engine.runner): ansible-playbook --syntax-check, yamllint and
ansible-lint on one file, in one Python process, and prints their results as JSON.

Why one process: each of these tools is a Python program that spends most of its start-up
importing ansible (0.5-1 s on the 2-core server), and ansible-lint itself starts four more
ansible interpreters (`ansible --version`, `ansible-config dump`, `ansible-doc -t become`,
`ansible-playbook --syntax-check`). Here ansible is imported once; each tool, and each
ansible command ansible-lint asks for, runs in a fork of this already-loaded interpreter.
The commands are ansible's own CLI classes, given the same arguments; only the exec of a
new interpreter is saved.

Why lookups are refused here: a playbook under review is hostile input. Loading a playbook
can template a few fields (play names, `import_playbook` paths); a lookup such as
`lookup('pipe', ...)` or `lookup('file', '/etc/shadow')` would then run on the portal's
server. Every lookup plugin is refused in this process and all its forks, so none runs,
whatever the file says.

This file is copied into the sandbox and run with the portal's Python; it imports nothing
from the portal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

# Set before ansible is imported: ansible reads its configuration once, at import, and
# ansible-lint passes these to every ansible command it starts. With the same values here,
# a fork of this process is configured exactly as the command would be.
FIXED_ENV = {
    "ANSIBLE_DEBUG": "0",
    "ANSIBLE_VERBOSE_TO_STDERR": "True",
    "ANSIBLE_FORCE_COLOR": "0",
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "False",
    "ANSIBLE_LOCALHOST_WARNING": "False",
    "ANSIBLE_RETRY_FILES_ENABLED": "False",
    "ANSIBLE_LINT_SKIP_SCHEMA_UPDATE": "1",
    "NO_COLOR": "1",
    "PYTHONWARNINGS": "ignore",
}
os.environ.update(FIXED_ENV)

# The ansible commands ansible-lint runs, served from a fork: module and CLI class.
CLIS = {
    "ansible": ("ansible.cli.adhoc", "AdHocCLI"),
    "ansible-config": ("ansible.cli.config", "ConfigCLI"),
    "ansible-doc": ("ansible.cli.doc", "DocCLI"),
    "ansible-playbook": ("ansible.cli.playbook", "PlaybookCLI"),
}
# Environment entries ansible-lint adds that change nothing once ansible is configured.
_SAME_CONFIG = {"PYTHONWARNINGS", "ANSIBLE_COLLECTIONS_PATH"}


def _refuse_lookups() -> None:
    from ansible.errors import AnsibleError
    from ansible.plugins import loader

    def refused(name: str, *args: Any, **kwargs: Any) -> Any:
        raise AnsibleError(f"lookup {name!r} refused: lookups are not run in a review")

    loader.lookup_loader.get = refused
    loader.lookup_loader.all = lambda *a, **k: iter(())


def _forked(fn: Callable[[], object], close: Sequence[int] = ()) -> tuple[int, Any, Any]:
    """Start fn() in a child with stdout/stderr in temporary files: (pid, out, err). The
    child closes the descriptors in `close` first."""
    out = tempfile.TemporaryFile()  # noqa: SIM115  (closed by _collect, in the parent)
    err = tempfile.TemporaryFile()  # noqa: SIM115
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child never returns into the caller's code
        code = 250
        try:
            for fd in close:
                if fd >= 0:
                    os.close(fd)
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            result = fn()
            code = result if isinstance(result, int) else 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
        except BaseException:  # report anything, then leave without running the parent's code
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    return pid, out, err


def _collect(pid: int, out: Any, err: Any) -> tuple[int, str, str]:
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    texts = []
    for fh in (out, err):
        fh.seek(0)
        texts.append(fh.read().decode("utf-8", errors="replace"))
        fh.close()
    return code, texts[0], texts[1]


def _cli(argv: Sequence[str]) -> Callable[[], object]:
    module, name = CLIS[argv[0]]

    def run() -> object:
        import importlib

        cls = getattr(importlib.import_module(module), name)
        sys.argv = list(argv)
        cls.cli_executor(list(argv))
        return 0

    return run


def _servable(args: Any, env: Any) -> bool:
    if not isinstance(args, list | tuple) or not args or args[0] not in CLIS:
        return False
    if env is None:
        return True
    keys = {k for k in set(env) | set(os.environ) if k.startswith("ANSIBLE_")} - _SAME_CONFIG
    return all(env.get(k) == os.environ.get(k) for k in keys)


def _is_shared_syntax_check(args: list[str], path: str) -> bool:
    """ansible-lint's own `ansible-playbook --syntax-check -vv FILE` is the very command the
    parent already runs beside it, for the same file."""
    return (
        len(args) == 4
        and args[:3] == ["ansible-playbook", "--syntax-check", "-vv"]
        and os.path.realpath(args[3]) == os.path.realpath(path)
    )


def _wait_for_shared(fd: int) -> tuple[int, str, str] | None:
    with os.fdopen(fd, "r", encoding="utf-8") as pipe:
        message = pipe.read()
    if not message:
        return None  # the parent had nothing to give: run it here
    result = json.loads(message)
    return int(result["rc"]), str(result["stdout"]), str(result["stderr"])


# The ansible commands ansible-lint asks about the installation itself. Their answers depend
# only on the installed ansible and the fixed configuration above, never on the file under
# review: the portal runs them once in a sandbox of their own (--warm, no user input) and
# hands the answers to each review (--answers), with the sandbox directory as "{dir}".
ABOUT_THE_INSTALLATION: tuple[tuple[str, ...], ...] = (
    ("ansible-config", "dump"),
    ("ansible", "--version"),
    ("ansible-doc", "--json", "-l", "-t", "become"),
)


def _load_answers(path: str) -> dict[tuple[str, ...], tuple[int, str, str]]:
    if not path:
        return {}
    here = os.getcwd()
    with open(path, encoding="utf-8") as fh:
        raw = json.load(fh)
    out: dict[tuple[str, ...], tuple[int, str, str]] = {}
    for entry in raw:
        args = tuple(entry["args"])
        if args in ABOUT_THE_INSTALLATION and entry["rc"] == 0:
            out[args] = (
                0,
                str(entry["stdout"]).replace("{dir}", here),
                str(entry["stderr"]).replace("{dir}", here),
            )
    return out


def warm() -> list[dict[str, Any]]:
    """The answers to ABOUT_THE_INSTALLATION, with this directory written as "{dir}"."""
    here = os.getcwd()
    answers = []
    for args in ABOUT_THE_INSTALLATION:
        code, out, err = _collect(*_forked(_cli(list(args))))
        answers.append(
            {
                "args": list(args),
                "rc": code,
                "stdout": out.replace(here, "{dir}"),
                "stderr": err.replace(here, "{dir}"),
            }
        )
    return answers


def _serve_ansible_commands(
    shared: tuple[str, int] | None = None,
    answers: dict[tuple[str, ...], tuple[int, str, str]] | None = None,
) -> None:
    """Inside the ansible-lint child: its ansible commands run from a fork, not an exec, or
    are answered from `answers` when they only ask about the installation."""
    real_run = subprocess.run
    real_check_output = subprocess.check_output
    known = answers or {}

    def run(args: Any, *a: Any, **kw: Any) -> subprocess.CompletedProcess[Any]:
        if not _servable(args, kw.get("env")):
            return real_run(args, *a, **kw)
        nonlocal shared
        reused = known.get(tuple(args))
        if shared is not None and _is_shared_syntax_check(list(args), shared[0]):
            reused, shared = _wait_for_shared(shared[1]), None
        code, out, err = reused or _collect(*_forked(_cli(list(args))))
        text = kw.get("text") or kw.get("universal_newlines")
        return subprocess.CompletedProcess(
            list(args), code, out if text else out.encode(), err if text else err.encode()
        )

    def check_output(args: Any, *a: Any, **kw: Any) -> Any:
        if not _servable(args, kw.get("env")):
            return real_check_output(args, *a, **kw)
        result = run(args, *a, **kw)
        if result.returncode:
            raise subprocess.CalledProcessError(result.returncode, args, result.stdout)
        return result.stdout

    subprocess.run = run
    subprocess.check_output = check_output


def _syntax_check(path: str) -> Callable[[], object]:
    # The same arguments ansible-lint uses, so its syntax check can reuse this one.
    return _cli(["ansible-playbook", "--syntax-check", "-vv", path])


def _yamllint(path: str, config: str) -> Callable[[], object]:
    def run() -> object:
        from yamllint import cli

        cli.run(["-f", "parsable", "-c", config, path])
        return 0

    return run


def _normalize_each_task_once() -> None:
    """ansible-lint wraps every task anew for each of its ~40 rules, and each wrapper
    deep-copies the task to normalise it: on a 300-line playbook that is 2,000 deep copies
    and most of the linter's CPU time. The result depends only on the task, which no rule
    changes when nothing is being fixed, so each task is normalised once."""
    from ansiblelint import utils

    real = utils.normalize_task_v2
    memo: dict[int, tuple[Any, Any]] = {}

    def once(task: Any) -> Any:
        hit = memo.get(id(task.raw_task))
        if hit is None or hit[0] is not task.raw_task:  # an id reused by a new object
            hit = memo[id(task.raw_task)] = (task.raw_task, real(task))
        return hit[1]

    utils.normalize_task_v2 = once


def _ansible_lint(
    path: str,
    profile: str,
    shared: tuple[str, int] | None,
    answers: dict[tuple[str, ...], tuple[int, str, str]],
) -> Callable[[], object]:
    def run() -> object:
        _serve_ansible_commands(shared, answers)
        _normalize_each_task_once()
        from ansiblelint.__main__ import main

        argv = ["ansible-lint", "--offline", "--nocolor", "-f", "codeclimate"]
        if profile:
            argv += ["--profile", profile]
        return main([*argv, path])

    return run


def main(argv: Sequence[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", default="")
    parser.add_argument("--answers", default="", help="answers of a --warm run (JSON file)")
    parser.add_argument("--warm", action="store_true", help="print the installation's answers")
    parser.add_argument("--syntax-path", default="")
    parser.add_argument("--yamllint-config", default=".yamllint")
    parser.add_argument("--profile", default="")
    parser.add_argument("--tools", default="syntax,yamllint,lint")
    opts = parser.parse_args(argv)
    started = time.monotonic()
    import ansible.cli.playbook  # noqa: F401  (loaded once, shared by every fork)
    import ansiblelint.__main__  # noqa: F401
    import yamllint.cli  # noqa: F401

    _refuse_lookups()
    imported = time.monotonic() - started
    if opts.warm:
        sys.stdout.write(json.dumps(warm()))
        return 0
    answers = _load_answers(opts.answers)
    wanted = [t for t in opts.tools.split(",") if t in ("syntax", "yamllint", "lint")]
    syntax_path = opts.syntax_path or opts.path
    # The syntax check's result goes to the ansible-lint child through this pipe when the
    # linter checks the same playbook (a task list is linted without a syntax check).
    share = "syntax" in wanted and "lint" in wanted and syntax_path == opts.path
    read_end, write_end = os.pipe() if share else (-1, -1)
    jobs = {
        "syntax": _syntax_check(syntax_path),
        "yamllint": _yamllint(opts.path, opts.yamllint_config),
        "lint": _ansible_lint(
            opts.path, opts.profile, (syntax_path, read_end) if share else None, answers
        ),
    }
    running = {}
    for name in wanted:
        running[name] = (
            time.monotonic(),
            _forked(jobs[name], close=[write_end] if name == "lint" else []),
        )
    if share:
        os.close(read_end)
    results: dict[str, Any] = {"import_seconds": round(imported, 3), "answered": len(answers)}
    for name, (t0, child) in running.items():
        code, out, err = _collect(*child)
        results[name] = {
            "rc": code,
            "stdout": out,
            "stderr": err,
            "seconds": round(time.monotonic() - t0, 3),
        }
        if name == "syntax" and share:
            _hand_over(write_end, {"rc": code, "stdout": out, "stderr": err})
    sys.stdout.write(json.dumps(results))
    return 0


def _hand_over(fd: int, result: dict[str, Any]) -> None:
    """Write the result for the lint child from a thread: a result larger than the pipe's
    buffer must not block the parent if the linter never asks for it."""
    import threading

    def write() -> None:
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as pipe:
                pipe.write(json.dumps(result))
        except (BrokenPipeError, OSError):
            pass  # the linter finished without asking

    threading.Thread(target=write, daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
