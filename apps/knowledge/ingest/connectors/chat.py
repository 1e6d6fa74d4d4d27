"""Chat history as documents: one thread (the question and its answers) is one document.

Shared by the Mattermost API connector and the export-file connector. A thread is rendered
as a small HTML page (the parsers' input): the channel and the thread's first line as title,
then every message as "who, when: text", code fences kept as code blocks. Message text is
escaped, so markup in a message is text, never structure of the page.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape

TITLE_CHARS = 90
_FENCE = re.compile(r"```[^\n]*\n?(.*?)```", re.S)


@dataclass(frozen=True)
class Message:
    author: str
    at: float  # seconds since the epoch, UTC
    text: str
    edited: float = 0.0


@dataclass
class Thread:
    external_id: str
    channel: str  # as shown: "~ops-incidents" or "#ops"
    path: str
    link: str = ""
    messages: list[Message] = field(default_factory=list)

    def add(self, message: Message) -> None:
        # The same message may come from two export files (overlapping exports).
        if message not in self.messages:
            self.messages.append(message)

    def ordered(self) -> list[Message]:
        return sorted(self.messages, key=lambda m: (m.at, m.author, m.text))

    def title(self) -> str:
        first = next((m.text for m in self.ordered() if m.text.strip()), "")
        line = " ".join(first.strip().splitlines()[0].split()) if first.strip() else ""
        if len(line) > TITLE_CHARS:
            line = line[: TITLE_CHARS - 1].rstrip() + "…"
        return f"{self.channel}: {line}" if line else self.channel

    def version(self) -> str:
        """Changes whenever a message is added, edited or removed."""
        digest = hashlib.sha256()
        for m in self.ordered():
            digest.update(f"{m.author}\0{m.at}\0{m.edited}\0{m.text}\0\0".encode())
        last = max((max(m.at, m.edited) for m in self.messages), default=0.0)
        return f"{int(last)}:{len(self.messages)}:{digest.hexdigest()[:16]}"


def when(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _body(text: str) -> str:
    """Message text as HTML paragraphs and <pre> blocks; everything escaped."""
    parts: list[str] = []
    pos = 0
    for fence in _FENCE.finditer(text):
        parts.append(_paragraphs(text[pos : fence.start()]))
        parts.append(f"<pre>{escape(fence.group(1))}</pre>")
        pos = fence.end()
    parts.append(_paragraphs(text[pos:]))
    return "".join(parts)


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{escape(p.strip())}</p>" for p in re.split(r"\n\s*\n", text) if p.strip())


def render(thread: Thread) -> bytes:
    """The thread as an HTML page: a question, its answers, who wrote them and when."""
    title = thread.title()
    out = [f"<html><head><title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>"]
    for n, m in enumerate(thread.ordered()):
        role = "question" if n == 0 else "answer"
        edited = f", edited {when(m.edited)}" if m.edited else ""
        out.append(
            f'<div class="{role}"><p>{escape(m.author)}, {when(m.at)}{edited}:</p>'
            f"{_body(m.text)}</div>"
        )
    out.append("</body></html>")
    return "".join(out).encode()


@dataclass
class Broken:
    """A part of a source that could not be read: listed as a document with this error, so
    the admin sees the file and line in the job and the document list."""

    external_id: str
    path: str
    error: str
    version: str = field(init=False)

    def __post_init__(self) -> None:
        self.version = "error:" + hashlib.sha256(self.error.encode()).hexdigest()[:12]
