"""Ansible review fed hostile input: refused with a clear error, quickly, nothing run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import InputError

DATA = Path(__file__).parent / "data" / "ansible"

BILLION_LAUGHS = """\
- name: lol
  hosts: all
  vars:
    a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
  tasks: []
"""


def _analyze(text: str) -> None:
    registry.get("ansible").analyze(text, {})


@pytest.mark.parametrize(
    ("text", "words", "line"),
    [
        ("x" * (20 * 1024 * 1024), "20.0 MB", None),
        (BILLION_LAUGHS, "alias bomb", 9),
        ("a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 300)), "nested", 65),
        ("[" * 3000 + "]" * 3000, "nested", 1),
        ("", "empty", None),
        ("just a sentence\n", "single value", 1),
        ("- name: x\n  hosts: all\n\x00", "binary", None),
    ],
    ids=["20MB", "billion-laughs", "deep-block", "deep-flow", "empty", "scalar", "binary"],
)
def test_hostile_input_is_refused_fast_with_the_reason(
    text: str, words: str, line: int | None
) -> None:
    started = time.monotonic()
    with translation.override("en"), pytest.raises(InputError) as caught:
        _analyze(text)
    assert time.monotonic() - started < 3
    assert words in str(caught.value)
    assert caught.value.line == line


def test_the_reason_is_given_in_russian_too() -> None:
    with translation.override("ru"), pytest.raises(InputError) as caught:
        _analyze(BILLION_LAUGHS)
    assert "алиас-бомба" in str(caught.value)


def _manage(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "scenario", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )


def test_the_command_line_exit_status_gates_a_merge_request(tmp_path: Path) -> None:
    bad = _manage("analyze", "ansible", str(DATA / "fleet_restart.yml"))
    assert bad.returncode == 1, bad.stderr
    assert "fleet_restart.yml:6:" in bad.stdout and "ansible.restart-without-serial" in bad.stdout
    good = _manage("analyze", "ansible", "--json", str(DATA / "good_rolling.yml"))
    assert good.returncode == 0, good.stderr
    assert '"findings": []' in good.stdout and '"lint_profile_passed": "production"' in good.stdout
    bomb = _manage("analyze", "ansible", "-", stdin=BILLION_LAUGHS)
    assert bomb.returncode == 2 and "алиас-бомба" in bomb.stderr and "line 9" in bomb.stderr
