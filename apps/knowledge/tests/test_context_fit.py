"""Grounded prompts fit the model's context (LLM_CONTEXT_TOKENS): estimated from above, checked
against the real dev model's tokenizer and its real refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings

from apps.inference import client
from apps.inference.prompts import estimate_tokens
from apps.knowledge.search import answering

pytestmark = pytest.mark.django_db(transaction=True)

LOG = "2026-12-04T18:56:10Z ERROR osd.12 heartbeat_check: no reply from 10.0.3.14:6802\n"


def _count(root: str, text: str) -> int:
    response = httpx.post(
        f"{root}/tokenize", json={"model": "gemma-3-270m", "prompt": text}, timeout=30
    )
    return int(response.json()["count"])


def test_the_estimate_never_counts_fewer_tokens_than_the_model(vllm: str) -> None:
    root = Path(settings.BASE_DIR)
    texts = [LOG * 30, "Как перезапустить под в CrashLoopBackOff? Проверьте события пода. " * 30]
    texts += [p.read_text()[:6000] for p in sorted((root / "samples").rglob("*.md"))[:12]]
    texts.append((root / "apps/knowledge/search/prompting.py").read_text()[:6000])
    for text in texts:
        assert estimate_tokens(text) >= _count(vllm, text), text[:80]


async def test_an_explanation_with_more_findings_than_fit_is_cut_and_answered(
    vllm: str, member: Any, settings: Any
) -> None:
    # A context of 2,048 tokens: the dev CPU model reads a fresh prompt at ~20 tokens/s, so a
    # prompt filling its whole 4,096 would wait ~3 minutes for the first token.
    settings.LLM_CONTEXT_TOKENS = 2048
    findings = "".join(f"- finding {n}: {LOG}" for n in range(120))  # ~12,000 tokens
    history = [
        {"role": "user", "content": "Earlier: " + LOG * 20},
        {"role": "assistant", "content": "Earlier answer."},
    ]
    grounding = answering.ground(
        member,
        "Explain the findings.",
        history,
        knowledge=False,
        instruction="Explain these findings.",
        context=findings,
        context_title="Findings",
        max_tokens=32,
    )
    assert grounding.trimmed["turns"] == 2 and grounding.trimmed["data_chars"] > 5000
    assert "- finding 0:" in grounding.messages[0]["content"]  # the first findings stay
    assert "cut to fit the model's context" in grounding.messages[0]["content"]
    budget = settings.LLM_CONTEXT_TOKENS - 32 - answering.CONTEXT_MARGIN
    assert grounding.prompt.estimated_tokens() <= budget
    answer = await client.complete(grounding.prompt, user=None, purpose="test", max_tokens=32)
    assert answer.outcome == "complete", answer.error
    assert budget / 3 < answer.prompt_tokens <= budget


def test_a_smaller_context_setting_keeps_fewer_turns(member: Any, settings: Any) -> None:
    history = []
    for n in range(6):
        history += [
            {"role": "user", "content": f"Question {n}? " + "word " * 200},
            {"role": "assistant", "content": f"Answer {n}. " + "word " * 200},
        ]
    kept = {}
    for context in (8192, 2048):
        settings.LLM_CONTEXT_TOKENS = context
        grounding = answering.ground(member, "Now?", history, knowledge=False, max_tokens=256)
        kept[context] = [m["content"].split()[1] for m in grounding.messages[:-1]]
        assert grounding.prompt.estimated_tokens() <= context - 256 - answering.CONTEXT_MARGIN
    assert len(kept[8192]) == 12 and 0 < len(kept[2048]) < 12
    # The newest turns are the ones kept, question and answer together.
    assert kept[2048][-1] == "5." and kept[2048][0].endswith("?")
