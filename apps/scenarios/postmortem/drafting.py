"""The model drafts the sections of a post-mortem the timeline cannot fill by itself.

The deterministic parts (durations, the timeline table, the action items) come from the
analysis; summary, impact, root cause and mitigation are the model's, written through the
scenario engine's grounded explanation (it streams on the run page like any explanation):
the question names the sections of the team's template, the merged timeline goes in as
quoted data with each entry numbered T<n>, and the similar past post-mortems of the
knowledge base ground it. Every sentence is to cite its entries as [T<n>].

What the model wrote is checked before it reaches the publish form: a section goes into the
draft only when it cites at least one entry and every entry it cites exists; otherwise the
template's TODO stays and the author writes it. Either way the author edits before
publishing, and an inserted section says it was drafted by the model.
"""

from __future__ import annotations

import re
from typing import Any

from apps.scenarios.engine.base import Analysis, Ask
from apps.scenarios.postmortem import report, templates

DRAFTED = ("summary", "impact", "root_cause", "mitigation")
CITATION = re.compile(r"\[T(\d{1,6})\]")
PROMPT_ENTRIES = 80
PROMPT_CHARS = 6000
NOTE = {
    "ru": "*(черновик модели по хронологии: проверьте)*",
    "en": "*(drafted by the model from the timeline: check it)*",
}
INSTRUCTION = (
    "Draft the sections listed in the question for the post-mortem of the incident whose "
    "merged timeline is in the data. Write each as a Markdown heading '## <section name>' "
    "with the name exactly as given, then its text. End every sentence about the incident "
    "with the timeline entries it comes from, as [T<n>]. Only what the entries show: where "
    "the timeline does not tell (often the root cause), say it is not known from the "
    "timeline. Do not repeat the timeline or the action items; they are filled in from the "
    "data. A past post-mortem from the sources may be mentioned as a similar incident, "
    "cited as a source."
)


def _lang(language: str) -> str:
    return "en" if (language or "").startswith("en") else "ru"


def section_names(language: str) -> list[tuple[str, str]]:
    """(kind, heading as the team's template writes it) of the sections the model drafts."""
    _title, found = report.sections(templates.template_for(_lang(language)))
    return [(s.kind, s.title) for s in found if s.kind in DRAFTED]


def timeline_text(facts: dict[str, Any]) -> str:
    """The merged timeline as the model reads it: one numbered entry a line."""
    lines = []
    for entry in (facts.get("timeline") or [])[:PROMPT_ENTRIES]:
        at = str(entry.get("at", ""))[:19].replace("T", " ")
        who = f"{entry['author']}: " if entry.get("author") else ""
        text = " ".join(str(entry.get("text", "")).split())[:300]
        lines.append(f"T{entry.get('n')} {at} UTC {who}{text}")
    spans = facts.get("durations") or {}
    lines.append("")
    lines += [f"{k}: {v} s" for k, v in spans.items() if v is not None]
    return "\n".join(lines)[:PROMPT_CHARS]


def ask(analysis: Analysis, language: str) -> Ask:
    names = [title for _kind, title in section_names(language)]
    first = (analysis.facts.get("timeline") or [{}])[0]
    subject = " ".join(str(first.get("text", "")).split())[:200]
    question = (
        f"Разделы пост-мортема: {', '.join(names)}. Инцидент: {subject}"
        if _lang(language) == "ru"
        else f"Post-mortem sections: {', '.join(names)}. Incident: {subject}"
    )
    return Ask(
        question=question,
        instruction=INSTRUCTION,
        context=timeline_text(analysis.facts),
        context_title="The incident's merged timeline",
    )


def drafted(answer: str, facts: dict[str, Any]) -> dict[str, str]:
    """The sections of the model's answer that pass the check: each cites at least one
    timeline entry and only entries that exist."""
    known = {int(e.get("n", 0)) for e in facts.get("timeline") or []}
    _title, found = report.sections(answer or "")
    out: dict[str, str] = {}
    for section in found:
        if section.kind not in DRAFTED or not section.text.strip():
            continue
        cited = {int(n) for n in CITATION.findall(section.text)}
        if cited and cited <= known:
            out[section.kind] = section.text.strip()
    return out


def apply(markdown: str, drafts: dict[str, str], language: str) -> str:
    """The filled template with each drafted section's TODO paragraph replaced by the
    model's text and a note saying so; sections without a draft keep their TODO."""
    if not drafts:
        return markdown
    out: list[str] = []
    kind = ""
    for line in markdown.splitlines():
        head = report._heading(line)
        if head is not None:
            kind = report.kind_of(head[1])
        elif kind in drafts and line.strip().startswith("TODO"):
            out.append(f"{drafts.pop(kind)}\n\n{NOTE[_lang(language)]}")
            continue
        out.append(line)
    return "\n".join(out) + ("\n" if markdown.endswith("\n") else "")
