"""What the model writes is checked like a pasted file: a playbook or a pipeline config in
its answer is offered as ready only when the real checks pass it."""

from __future__ import annotations

from pathlib import Path

from django.utils import translation

from apps.scenarios.ansible import output_check as ansible_check
from apps.scenarios.otel_pipeline import output_check as otel_check

DATA = Path(__file__).parent / "data"


def test_a_clean_playbook_block_is_ready() -> None:
    result = ansible_check.check_playbook(
        (DATA / "ansible" / "good_rolling.yml").read_text(), "yaml"
    )
    assert result.verdict == "passed" and "ansible-lint" in result.tool


def test_a_risky_playbook_block_fails_with_its_first_problem_and_line() -> None:
    with translation.override("en"):
        result = ansible_check.check_playbook(
            (DATA / "ansible" / "fleet_restart.yml").read_text(), "yaml"
        )
    assert result.verdict == "failed"
    assert (
        result.message.startswith("line 6: ")
        and "serial" in result.message
        and "more" in result.message
    )


def test_a_block_with_a_load_time_lookup_fails_and_runs_nothing(tmp_path: Path) -> None:
    canary = tmp_path / "PWNED"
    tmp_path.chmod(0o777)
    code = (DATA / "ansible" / "hostile_lookup.yml").read_text().replace("PWNED_PATH", str(canary))
    result = ansible_check.check_playbook(code, "yaml")
    assert result.verdict == "failed" and not canary.exists()


def test_blocks_that_are_not_ansible_are_not_checked() -> None:
    assert ansible_check.check_playbook("echo hello\n", "bash").verdict == "unchecked"
    assert ansible_check.check_playbook("a: 1\nb: [2, 3]\n", "yaml").verdict == "unchecked"


def test_a_proposed_collector_config_passes_or_says_what_remains() -> None:
    good = (DATA / "otel" / "collector_docs.yaml").read_text()
    assert otel_check.check_config(good, "yaml").verdict == "passed"
    with translation.override("en"):
        bad = otel_check.check_config((DATA / "otel" / "collector_broken.yaml").read_text(), "yaml")
    assert bad.verdict == "failed" and bad.errors == 6
    assert bad.message.startswith("line 9: ") and "(and 5 more)" in bad.message
    assert otel_check.check_config("some log line\n", "").verdict == "unchecked"
    assert otel_check.check_config(good, "python").verdict == "unchecked"
