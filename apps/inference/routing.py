"""Which tier a request needs, and the order in which backends are tried.

The rules are documented for operators in docs/llm-gateway.md; keep the two in step.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections import Counter
from dataclasses import dataclass

from asgiref.sync import sync_to_async

from apps.inference.backends import TIERS, BackendConfig, load
from apps.inference.models import AUTO, Tier
from apps.inference.state import BackendState, states_for

log = logging.getLogger(__name__)

# About 3,000 tokens: a prompt this long (pasted logs, long history, many retrieved chunks)
# wants the heavy tier's longer context and better reading.
LONG_PROMPT_CHARS = 12_000
# A fenced block this long in the question is code or config to review or rewrite.
CODE_BLOCK_LINES = 8

_VERBS = (
    r"write|generate|create|draft|compose|produce|refactor|rewrite|convert|fix|implement|"
    r"напиш|сгенер|созда|состав|подготов|сдела|перепиш|исправ|переде|реализ|сконверт"
)
_ARTIFACTS = (
    r"code|script|function|class|program|config|configuration|manifest|playbook|role|"
    r"dockerfile|helm|chart|yaml|yml|json|terraform|regex|regexp|promql|sql|query|"
    r"alert ?rule|recording rule|nginx|haproxy|systemd|unit file|cron|bash|shell|python|"
    r"ansible|kubectl|patch|"
    r"код|скрипт|функци|класс|программ|конфиг|манифест|плейбук|рол|ямл|регуляр|"
    r"правил|юнит|крон|запрос"
)
# A verb and an artifact within a few words of each other, in either order.
_CODE_REQUEST = re.compile(
    rf"(?:\b(?:{_VERBS})\w*\W+(?:\w+\W+){{0,4}}(?:{_ARTIFACTS}))"
    rf"|(?:\b(?:{_ARTIFACTS})\w*\W+(?:\w+\W+){{0,2}}(?:{_VERBS}))",
    re.IGNORECASE,
)
_FENCE = re.compile(r"```.*?(?:```|$)", re.DOTALL)


def _last_user_text(messages: list[dict[str, str]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def choose_tier(messages: list[dict[str, str]], requested: str) -> str:
    """`fast` or `heavy`. A named tier is kept; `auto` picks heavy when the prompt is long
    (over LONG_PROMPT_CHARS characters in all messages) or the last user message asks to
    write, generate or fix code or configuration (or carries a code block of
    CODE_BLOCK_LINES lines or more), and fast otherwise."""
    if requested in TIERS:
        return requested
    if requested != AUTO:
        raise ValueError(f"unknown tier {requested!r}: use auto, {' or '.join(TIERS)}")
    if sum(len(str(m.get("content") or "")) for m in messages) > LONG_PROMPT_CHARS:
        return Tier.HEAVY.value
    question = _last_user_text(messages)
    if _CODE_REQUEST.search(question):
        return Tier.HEAVY.value
    if any(block.count("\n") >= CODE_BLOCK_LINES for block in _FENCE.findall(question)):
        return Tier.HEAVY.value
    return Tier.FAST.value


# Streams this process has open per backend: exact and instant, where the polled numbers
# are up to one poll interval old. Touched only from the event loop.
IN_FLIGHT: Counter[str] = Counter()


@dataclass(frozen=True)
class Candidate:
    backend: BackendConfig
    state: BackendState
    fell_back: bool


def _load_key(state: BackendState) -> tuple[float, float, float, float]:
    running = max(state.running or 0.0, float(IN_FLIGHT[state.name]))
    # The random last term spreads equal-load picks over replicas instead of piling onto
    # the first one between two polls.
    return (state.waiting or 0.0, running, state.kv_cache_usage or 0.0, random.random())  # noqa: S311


# What plan() reads: the enabled backends and their polled state, kept for a moment in each
# process. The state only changes when a poller writes it (every few seconds), and reading it
# for every request put a database query and a Redis read, in a thread shared with the call
# records, on each answer's way to its first token. A view older than VIEW_SECONDS is still
# used once while a fresh one is read beside it. This process's own failures and backend
# edits drop it, so the next request waits for a fresh read; a poll here replaces it with
# what the poll just read, so requests never wait on the poller's account.
VIEW_SECONDS = 1.0
View = tuple[float, list[BackendConfig], dict[str, BackendState]]
_view: View | None = None
_reading: asyncio.Task[None] | None = None
# Bumped by forget(): a view read before a forget() must not be kept after it.
_epoch = 0


def _read() -> View:
    configs = load(enabled_only=True)
    return time.monotonic(), configs, {s.name: s for s in states_for(configs)}


async def _refresh() -> View:
    mark = _epoch
    view = await sync_to_async(_read)()
    _keep(view, mark)
    return view


def _keep(view: View, mark: int) -> None:
    global _view
    if mark == _epoch:
        _view = view


async def _refresh_quietly() -> None:
    try:
        await _refresh()
    except Exception:
        # The stale view serves until the next request tries again; say why meanwhile.
        log.warning("could not read the LLM backends and their state", exc_info=True)


def forget() -> None:
    """Read the backends and their state afresh at the next plan."""
    global _view, _epoch
    _view = None
    _epoch += 1


def epoch() -> int:
    """Where forget() stands: pass it to install() with what was read from here on."""
    return _epoch


def install(configs: list[BackendConfig], states: list[BackendState], mark: int) -> None:
    """The backends and states a poll of this process has just read become the view, unless
    something was forgotten since `mark` (an edit or a failure the read may predate)."""
    view = (time.monotonic(), [c for c in configs if c.enabled], {s.name: s for s in states})
    _keep(view, mark)


async def plan(tier: str) -> tuple[list[Candidate], list[str]]:
    """Backends to try for `tier`, best first, and why others were left out."""
    global _reading
    view = _view
    if view is None:
        view = await _refresh()
    elif time.monotonic() - view[0] > VIEW_SECONDS and not _refreshing():
        _reading = asyncio.create_task(_refresh_quietly())
    return _order(tier, view[1], view[2])


def _refreshing() -> bool:
    task = _reading
    return task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop()


def _order(
    tier: str, configs: list[BackendConfig], states: dict[str, BackendState]
) -> tuple[list[Candidate], list[str]]:
    """Order: healthy (or not yet polled) backends of the tier by load (waiting, then running,
    then KV cache use); then those of the other tier (a fall-back); last, backends the poller
    found unhealthy, in case its view is a few seconds old. Backends in cool-down are skipped.
    """
    other = next(t for t in TIERS if t != tier)
    skipped: list[str] = []
    usable: list[tuple[BackendConfig, BackendState]] = []
    for config in configs:
        state = states[config.name]
        if state.cooling_down:
            skipped.append(f"{config.name}: skipped after repeated failures (cool-down)")
        elif config.key_error:
            skipped.append(f"{config.name}: {config.key_error}")
        else:
            usable.append((config, state))

    def group(wanted: str, healthy: bool) -> list[Candidate]:
        chosen = [
            (c, s) for c, s in usable if c.tier == wanted and (s.healthy or not s.known) == healthy
        ]
        chosen.sort(key=lambda pair: _load_key(pair[1]))
        return [Candidate(c, s, fell_back=wanted != tier) for c, s in chosen]

    ordered = group(tier, True) + group(other, True) + group(tier, False) + group(other, False)
    if not configs:
        skipped.append("no LLM backend is configured or enabled")
    return ordered, skipped
