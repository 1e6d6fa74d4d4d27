"""What a caller asks a model, in the forms different backends need.

Instruction-tuned models (the production Mistral/Mixtral tiers) take chat messages on
`/v1/chat/completions`. A base model (the dev gemma-3-270m) never learned chat turns: through a
chat template it repeats its prompt, while the same request written as a plain document that
ends where the answer should begin ("Question: …\nAnswer:") gets an answer. A Prompt carries
both; the client picks one per backend (backends marked `base_model`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

# A letter run, one digit, one other symbol, or a whitespace run: what tokenizers split on.
_PIECES = re.compile(r"[^\W\d_]+|\d|\s+|[^\w\s]|_")
# Tokens a chat template adds around each message (role markers, turn delimiters).
MESSAGE_OVERHEAD = 8


def estimate_tokens(text: str) -> int:
    """Tokens `text` takes, estimated from above without the model's tokenizer.

    Each digit and symbol counts as one token, a word as one per four letters, a run of
    whitespace beyond one space as one per eight. Against gemma-3's tokenizer (vLLM's
    /tokenize) on the ops corpus this counts 20-40 % more for prose and 0-5 % more for logs
    full of addresses and timestamps, the densest text seen; it never counted fewer.
    """
    count = 0
    for match in _PIECES.finditer(text):
        piece = match.group()
        first = piece[0]
        if first.isspace():
            count += 0 if piece == " " else math.ceil(len(piece) / 8)
        elif first.isalpha():
            count += math.ceil(len(piece) / 4)
        else:
            count += 1
    return count


# A base model left to itself repeats a line until max_tokens (measured on gemma-3-270m at
# temperature 0: "1. OSD_NEARFULL > OSD_FULL" a dozen times); a frequency penalty of 1.0 makes
# it move on. It also goes on writing the document it was given: the next question, the next
# source, the next turn. The answer ends there.
BASE_FREQUENCY_PENALTY = 1.0
# At most four: the OpenAI API (and vLLM) refuse more.
BASE_STOP = ("\nQuestion:", "\nSource [", "<<<", "<end_of_turn>")


@dataclass(frozen=True)
class Prompt:
    """One request to a model.

    `messages`: the chat form. `completion`: the same request as plain text for base models
    (empty: the client writes a plain transcript of `messages`). `scaffold`: phrases of the
    prompt's own wording (rules, delimiters, headings) that an answer must never reproduce.
    `guarded`: whether the answer is checked for prompt echoes at all (off for raw API
    calls, where the caller owns the prompt; see guard.py). `quoted`: the material the
    answer may quote (source texts, a scenario's data) as it is written in either form, so
    that the guard tells a quotation from a repeated prompt. `stop`: where a base model's
    continuation of `completion` ends (the document would go on with something else)."""

    messages: list[dict[str, str]]
    completion: str = ""
    scaffold: tuple[str, ...] = field(default_factory=tuple)
    guarded: bool = True
    quoted: tuple[str, ...] = field(default_factory=tuple)
    stop: tuple[str, ...] = BASE_STOP

    def completion_text(self) -> str:
        return self.completion or transcript(self.messages)

    def estimated_tokens(self) -> int:
        """The larger of the two forms' estimates: either may be sent."""
        chat = sum(
            estimate_tokens(str(m.get("content", ""))) + MESSAGE_OVERHEAD for m in self.messages
        )
        return max(chat, estimate_tokens(self.completion_text()))


def transcript(messages: Sequence[dict[str, str]]) -> str:
    """Chat messages as a plain document a base model can continue: earlier turns as
    Question/Answer pairs, system text first, ending with an open "Answer:"."""
    parts: list[str] = []
    for message in messages:
        role, content = message.get("role", ""), str(message.get("content", "")).strip()
        if role == "system":
            parts.append(content)
        elif role == "user":
            parts.append(f"Question: {content}")
        elif role == "assistant":
            parts.append(f"Answer: {content}")
    return "\n\n".join(parts) + "\nAnswer:"


def as_prompt(request: Prompt | list[dict[str, str]]) -> Prompt:
    """A Prompt as is; bare chat messages (a raw API call) as an unguarded Prompt."""
    return request if isinstance(request, Prompt) else Prompt(list(request), guarded=False)
