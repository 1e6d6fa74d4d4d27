"""Who may open a run, and what a run hands to chat.

A run is its owner's. Shared by link, it opens for a signed-in user who may read every
knowledge source the run read (the Git source of its input, the sources its explanation
cites): the run quotes those sources, so the link must not show them to anyone else.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from apps.knowledge.search.retrieval import readable_source_ids
from apps.scenarios.engine import registry
from apps.scenarios.models import Run
from common import handoff

# The hand-off chat accepts at POST /chat/continue/ (apps/chat/views.py, SEED_KIND).
CHAT_SEED_KIND = "chat.seed"
SEED_TURN_CHARS = 6000
INPUT_EXCERPT_CHARS = 2500


def unreadable_sources(user: Any, run: Run) -> list[int]:
    """The run's sources the user may not read (empty: the user may open the run)."""
    readable = set(readable_source_ids(user))
    return sorted(int(s) for s in run.source_ids if int(s) not in readable)


def may_view(user: Any, run: Run, token: str = "") -> bool:
    if run.user_id == getattr(user, "pk", None):
        return True
    if not token or not run.share_token or token != run.share_token:
        return False
    return not unreadable_sources(user, run)


def share_url(run: Run) -> str:
    return reverse("scenarios:shared", args=[run.share_token]) if run.share_token else ""


def _findings_text(run: Run) -> str:
    lines = []
    for f in run.findings:
        where = f"line {f['line']}" if f.get("line") else (f.get("where") or "")
        head = f"- {f.get('severity', '')} [{f.get('rule', '')}]"
        lines.append(f"{head}{' ' + where if where else ''}: {f.get('message', '')}")
        if f.get("evidence"):
            lines.append(f"  evidence: {f['evidence']}")
    return "\n".join(lines) or "(no findings)"


def chat_seed(user: Any, run: Run, page_url: str) -> str:
    """A signed hand-off that opens a chat conversation continuing this run: the input and
    findings as the user's turn, the explanation as the assistant's."""
    try:
        title = str(registry.get(run.scenario).title)
    except registry.UnknownScenario:
        title = run.scenario
    excerpt = run.input_text[:INPUT_EXCERPT_CHARS]
    if len(run.input_text) > INPUT_EXCERPT_CHARS:
        excerpt += "\n…"
    question = (
        f"{title}: {run.title}\n{page_url}\n\nFindings:\n{_findings_text(run)}\n\n"
        f"Input:\n```\n{excerpt}\n```"
    )[:SEED_TURN_CHARS]
    turns: list[dict[str, Any]] = [{"role": "user", "content": question}]
    if run.answer.strip():
        turns.append(
            {
                "role": "assistant",
                "content": run.answer[:SEED_TURN_CHARS],
                "citations": run.citations,
            }
        )
    else:
        # Chat turns alternate: without an explanation, the findings stand as the answer.
        turns = [
            {"role": "user", "content": f"{title}: {run.title}\n{page_url}\n\nInput:\n{excerpt}"},
            {"role": "assistant", "content": f"Findings:\n{_findings_text(run)}"[:SEED_TURN_CHARS]},
        ]
    return handoff.sign(CHAT_SEED_KIND, int(user.pk), {"title": run.title, "turns": turns})
