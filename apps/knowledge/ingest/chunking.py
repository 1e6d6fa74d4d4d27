"""Structure-aware chunking: a few hundred tokens per chunk, never across sections, code
blocks and tables never split mid-way, with some overlap between neighbouring chunks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from apps.knowledge.ingest.parsing import CODE, TABLE, TEXT, Block

TARGET_TOKENS = 200
MAX_TOKENS = 320
OVERLAP_TOKENS = 40
# A code block or table larger than this is split between lines: one 5,000-line listing
# would otherwise be a single chunk nobody can quote.
HARD_CAP_TOKENS = 900

_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


@dataclass
class Chunk:
    text: str
    section: tuple[str, ...]


def _split_lines(block: Block, limit: int) -> list[Block]:
    """Split an oversized block between lines (for code and tables) or sentences (text)."""
    if block.kind == TEXT:
        pieces = re.split(r"(?<=[.!?])\s+|\n", block.text)
    else:
        pieces = block.text.split("\n")
    out: list[Block] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        n = count_tokens(piece)
        if current and size + n > limit:
            out.append(
                Block(
                    block.kind, ("\n" if block.kind != TEXT else " ").join(current), block.section
                )
            )
            current, size = [], 0
        if n > limit:  # one enormous line or sentence: cut by words, there is no better seam
            words = piece.split()
            step = max(1, int(len(words) * limit / n))
            for i in range(0, len(words), step):
                out.append(Block(block.kind, " ".join(words[i : i + step]), block.section))
            continue
        current.append(piece)
        size += n
    if current:
        out.append(
            Block(block.kind, ("\n" if block.kind != TEXT else " ").join(current), block.section)
        )
    return out


def _tail(text: str, tokens: int) -> str:
    """The last sentences of a text, about `tokens` long, to repeat at the next chunk's start."""
    sentences = re.split(r"(?<=[.!?])\s+", text)
    out: list[str] = []
    size = 0
    for sentence in reversed(sentences):
        n = count_tokens(sentence)
        if size + n > tokens:
            break
        out.insert(0, sentence)
        size += n
    if not out:  # one long run-on sentence: repeat its last words instead
        return " ".join(text.split()[-max(1, tokens // 2) :])
    return " ".join(out)


def chunk_blocks(blocks: list[Block]) -> list[Chunk]:
    units: list[Block] = []
    for block in blocks:
        n = count_tokens(block.text)
        atomic = block.kind in (CODE, TABLE)
        limit = HARD_CAP_TOKENS if atomic else MAX_TOKENS
        units.extend(
            _split_lines(block, TARGET_TOKENS if not atomic else limit) if n > limit else [block]
        )

    chunks: list[Chunk] = []
    current: list[Block] = []
    size = 0

    def emit() -> None:
        nonlocal current, size
        if not current:
            return
        chunks.append(Chunk("\n\n".join(b.text for b in current), current[0].section))
        last = current[-1]
        current, size = [], 0
        # Overlap: carry the end of the previous prose into the next chunk of the same
        # section, so a sentence split between two chunks is still found whole in one.
        if last.kind == TEXT:
            tail = _tail(last.text, OVERLAP_TOKENS)
            if tail and tail != last.text:
                current = [Block(TEXT, tail, last.section)]
                size = count_tokens(tail)

    for unit in units:
        n = count_tokens(unit.text)
        if current and current[0].section != unit.section:
            emit()
            current, size = [], 0  # no overlap across sections
        if current and size + n > TARGET_TOKENS and size > OVERLAP_TOKENS:
            emit()
        current.append(unit)
        size += n
    if current and not (len(current) == 1 and chunks and current[0].text in chunks[-1].text):
        chunks.append(Chunk("\n\n".join(b.text for b in current), current[0].section))
    return chunks
