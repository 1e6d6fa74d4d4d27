"""The auto tier rule (documented in docs/llm-gateway.md)."""

from __future__ import annotations

import pytest

from apps.inference.routing import LONG_PROMPT_CHARS, choose_tier


def _ask(text: str, *history: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": "You help IT operations engineers."}]
    messages += [{"role": "assistant", "content": h} for h in history]
    return [*messages, {"role": "user", "content": text}]


@pytest.mark.parametrize(
    "question",
    [
        "Why does the ceph cluster report HEALTH_WARN?",
        "Что значит OOMKilled у пода?",
        "Как посмотреть логи ingress-nginx?",
        "What is the difference between a Deployment and a StatefulSet?",
    ],
)
def test_short_questions_go_fast(question: str) -> None:
    assert choose_tier(_ask(question), "auto") == "fast"


@pytest.mark.parametrize(
    "question",
    [
        "Write an Ansible playbook that rotates nginx logs",
        "Generate a Prometheus alert rule for disk usage above 90%",
        "Напиши скрипт на bash для очистки старых снапшотов",
        "Сгенерируй манифест Deployment для redis",
        "Составь конфиг haproxy с двумя бэкендами",
        "Fix this:\n```\n" + "line\n" * 10 + "```",
    ],
)
def test_code_and_config_requests_go_heavy(question: str) -> None:
    assert choose_tier(_ask(question), "auto") == "heavy"


def test_long_prompts_go_heavy() -> None:
    log = "kernel: eth0 link down\n" * (LONG_PROMPT_CHARS // 20)
    assert choose_tier(_ask("What happened here?\n" + log), "auto") == "heavy"
    assert choose_tier(_ask("And now?", log), "auto") == "heavy"


def test_named_tier_is_kept_and_unknown_refused() -> None:
    assert choose_tier(_ask("Write a script"), "fast") == "fast"
    assert choose_tier(_ask("hi"), "heavy") == "heavy"
    with pytest.raises(ValueError, match="unknown tier"):
        choose_tier(_ask("hi"), "gpt-5")
