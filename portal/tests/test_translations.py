"""The Russian catalogue compiles under `msgfmt --check`: every translation keeps the
placeholders of its source, in every plural form, so no page raises KeyError or shows a
number where the Russian text dropped it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = sorted(ROOT.glob("locale/*/LC_MESSAGES/*.po"))


def test_there_is_a_russian_catalogue() -> None:
    assert ROOT / "locale/ru/LC_MESSAGES/django.po" in CATALOGUES


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_msgfmt_check_passes(po: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.fail("msgfmt is missing: run `bash deploy/dev/system-packages.sh` (gettext)")
    result = subprocess.run(
        [msgfmt, "--check", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Header fields left at their defaults are warnings; a broken entry is a fatal error.
    errors = [
        line
        for line in result.stderr.splitlines()
        if "warning: header field" not in line and line.strip()
    ]
    assert result.returncode == 0, "\n".join(errors)
