"""Retrieval evaluation over a question set: hit@1, hit@k, MRR and section hit@k for dense,
sparse and hybrid search, by question language, and the relevance gate's answered/refused
rates.

A question set is JSON lines: {"q": question, "doc": path | null, "section": heading,
"lang": "ru" | "en"}. `doc` null marks a question the knowledge base cannot answer: it is
scored only by the gate (the right outcome is a refusal). `section` is optional: the heading
(as the parser names it) whose text answers; a hit counts for the section when it is in that
document and the heading is on its section path (so a subsection counts), or when `section`
is empty. See bench/eval/README.md.

Ranks are counted in the list the search page shows (retrieval.results): one entry per
document, its best chunk first and its other sections among the k best chunks under it. The
gate reads the k best chunks, as the chat and the search page's answer do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.knowledge.search import answering, retrieval

MODES = ("dense", "sparse", "hybrid")
MAX_QUESTION_CHARS = 2000


class BadQuestionSet(ValueError):
    """The file is not a usable question set; the message names the line."""


@dataclass(frozen=True)
class Question:
    q: str
    doc: str | None
    section: str | None
    lang: str


def load(path: Path) -> list[Question]:
    """Parse a question set; every line must be a JSON object with a non-empty string `q`,
    a string or null `doc`, optional string `section` and `lang`."""
    out: list[Question] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadQuestionSet(f"line {n}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise BadQuestionSet(f"line {n}: expected a JSON object")
        q, doc, section, lang = row.get("q"), row.get("doc"), row.get("section"), row.get("lang")
        if not isinstance(q, str) or not q.strip() or len(q) > MAX_QUESTION_CHARS:
            raise BadQuestionSet(f"line {n}: 'q' must be a non-empty string (at most 2000 chars)")
        if doc is not None and not isinstance(doc, str):
            raise BadQuestionSet(f"line {n}: 'doc' must be a path or null")
        if section is not None and not isinstance(section, str):
            raise BadQuestionSet(f"line {n}: 'section' must be a string")
        out.append(Question(q, doc or None, section, str(lang or "?")))
    if not out:
        raise BadQuestionSet("the file has no questions")
    return out


def section_matches(hit: retrieval.Hit, question: Question) -> bool:
    if hit.path != question.doc:
        return False
    if not question.section:
        return True
    return question.section.strip() in [s.strip() for s in hit.section.split(" > ")]


@dataclass
class _Tally:
    questions: int = 0
    hit1: int = 0
    hitk: int = 0
    rr: float = 0.0
    sections: int = 0  # questions that name a section
    section_hitk: int = 0
    section_rr: float = 0.0

    def row(self, k: int) -> dict[str, Any]:
        n = self.questions or 1
        out: dict[str, Any] = {
            "questions": self.questions,
            "hit@1": round(self.hit1 / n, 3),
            f"hit@{k}": round(self.hitk / n, 3),
            "mrr": round(self.rr / n, 3),
        }
        if self.sections:
            out[f"section_hit@{k}"] = round(self.section_hitk / self.sections, 3)
            out["section_mrr"] = round(self.section_rr / self.sections, 3)
        return out


@dataclass
class _Gate:
    answerable: int = 0
    answered: int = 0
    unanswerable: int = 0
    refused: int = 0
    by_lang: dict[str, list[int]] = field(default_factory=dict)  # lang -> [ans, ansd, un, ref]
    # Per question: language, answerable, the best relevance the rule looks at, and whether
    # the question names something nothing mentions (answering.unknown_names).
    scores: list[tuple[str, bool, float, bool]] = field(default_factory=list)

    def add(self, lang: str, answerable: bool, relevant: bool) -> None:
        counts = self.by_lang.setdefault(lang, [0, 0, 0, 0])
        if answerable:
            self.answerable += 1
            self.answered += relevant
            counts[0] += 1
            counts[1] += relevant
        else:
            self.unanswerable += 1
            self.refused += not relevant
            counts[2] += 1
            counts[3] += not relevant

    def row(self) -> dict[str, Any]:
        def rate(a: int, b: int) -> float | None:
            return round(a / b, 3) if b else None

        return {
            "answerable": self.answerable,
            "answered": rate(self.answered, self.answerable),
            "unanswerable": self.unanswerable,
            "refused": rate(self.refused, self.unanswerable),
            "by_language": {
                lang: {"answered": rate(c[1], c[0]), "refused": rate(c[3], c[2])}
                for lang, c in sorted(self.by_lang.items())
            },
            "sweep": self.sweep(),
        }

    def sweep(self) -> list[dict[str, Any]]:
        """Answered and refused rates had KNOWLEDGE_MIN_RELEVANCE been each of 0.20-0.80:
        what calibrating the rule on a set needs."""
        rows = []
        for step in range(20, 81, 5):
            threshold = step / 100
            row: dict[str, Any] = {"threshold": threshold}
            for lang in ("all", *sorted(self.by_lang)):
                mine = [
                    (a, r >= (max(threshold, answering.UNKNOWN_NAME_RELEVANCE) if u else threshold))
                    for q_lang, a, r, u in self.scores
                    if lang in ("all", q_lang)
                ]
                can = [passed for a, passed in mine if a]
                cannot = [passed for a, passed in mine if not a]
                row[lang] = {
                    "answered": round(sum(can) / len(can), 3) if can else None,
                    "refused": round(sum(not p for p in cannot) / len(cannot), 3)
                    if cannot
                    else None,
                }
            rows.append(row)
        return rows


def evaluate(
    user: Any,
    questions: Iterable[Question],
    *,
    k: int = 5,
    modes: Iterable[str] = MODES,
    on_miss: Callable[[str, Question, list[retrieval.Hit]], None] | None = None,
) -> dict[str, Any]:
    """Search every question as `user` in each mode and score it. The gate
    (answering.is_relevant over the hybrid hits) is reported when hybrid is among the modes.
    `on_miss(mode, question, hits)` is called for each answerable question whose document is
    not in the top k."""
    questions = list(questions)
    report: dict[str, Any] = {
        "questions": len(questions),
        "answerable": sum(1 for q in questions if q.doc),
        "k": k,
    }
    gate = _Gate()
    for mode in modes:
        tallies: dict[str, _Tally] = {}
        for question in questions:
            found = retrieval.results(user, question.q, k, mode=mode)
            hits, pages = found.hits, found.pages
            if mode == "hybrid":
                unknown = answering.unknown_names(user, question.q)
                relevant = answering.is_relevant(hits, question.q, unknown)
                gate.add(question.lang, bool(question.doc), relevant)
                best = max((h.relevance for h in hits[: answering.RELEVANT_AMONG]), default=0.0)
                gate.scores.append((question.lang, bool(question.doc), best, bool(unknown)))
            if not question.doc:
                continue
            # Ranked as the search page lists them: one entry per document, its sections
            # among the k best chunks under it.
            rank = next((n for n, p in enumerate(pages, 1) if p.best.path == question.doc), None)
            srank = next(
                (
                    n
                    for n, p in enumerate(pages, 1)
                    if any(section_matches(h, question) for h in p.hits)
                ),
                None,
            )
            for key in ("all", question.lang):
                t = tallies.setdefault(key, _Tally())
                t.questions += 1
                t.hit1 += rank == 1
                t.hitk += rank is not None
                t.rr += 1 / rank if rank else 0.0
                if question.section is not None:
                    t.sections += 1
                    t.section_hitk += srank is not None
                    t.section_rr += 1 / srank if srank else 0.0
            if rank is None and on_miss:
                on_miss(mode, question, [p.best for p in pages])
        report[mode] = {lang: t.row(k) for lang, t in sorted(tallies.items())}
    if gate.answerable or gate.unanswerable:
        report["gate"] = gate.row()
    return report
