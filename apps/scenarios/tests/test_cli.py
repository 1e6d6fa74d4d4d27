"""`manage.py scenario`: the command line teams put in their pipelines."""

from __future__ import annotations

import subprocess
import sys

from django.conf import settings


def _manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "scenario", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_unknown_scenario_is_refused_with_the_usage() -> None:
    result = _manage("analyze", "no-such-scenario", "-")
    assert result.returncode != 0
    assert "no-such-scenario" in result.stderr
