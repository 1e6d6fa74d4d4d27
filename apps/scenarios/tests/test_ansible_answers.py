"""ansible-lint's questions about the installation are answered from a sandboxed warm-up that
saw no user input: the answers carry no sandbox path of their own, and a review given them
reports exactly what a review that asks ansible itself reports."""

from __future__ import annotations

import json
from pathlib import Path

from apps.scenarios.ansible import tools

DATA = Path(__file__).parent / "data" / "ansible"


def test_the_warm_up_answers_the_three_questions_with_the_directory_as_a_placeholder() -> None:
    answers = json.loads(tools.installation_answers())
    assert [a["args"][0] for a in answers] == ["ansible-config", "ansible", "ansible-doc"]
    assert all(a["rc"] == 0 and a["stdout"] for a in answers)
    text = " ".join(a["stdout"] + a["stderr"] for a in answers)
    assert "opsdesk-tool-" not in text and "{dir}" in text


def test_a_review_with_the_answers_finds_what_one_without_them_finds() -> None:
    text = (DATA / "shell_risks.yml").read_text()
    warm = tools.installation_answers()
    assert warm
    try:
        tools._ANSWERS[:] = [""]  # each review asks ansible itself
        asked = tools.run_tools(text, "playbook")
    finally:
        tools._ANSWERS[:] = [warm]
    answered = tools.run_tools(text, "playbook")

    def key(run: tools.ToolRun) -> list[tuple[str, int | None, str]]:
        return sorted((f.rule, f.line, f.message) for f in run.findings)

    assert key(answered) == key(asked) and answered.findings
    assert answered.facts["lint_profile_passed"] == asked.facts["lint_profile_passed"]
