"""Reading a runbook's own structure: which section diagnoses, which fixes, what it lists as
causes, what it forbids.

Runbooks at most companies share a shape (meaning, impact, diagnosis, mitigation,
escalation; in Russian «Что это значит», «Диагностика», «Устранение», «Эскалация»). The
triage quotes those sections instead of paraphrasing them, so every step it shows is one a
person wrote and can be checked against the cited section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal[
    "diagnosis", "steps", "mitigation", "causes", "meaning", "never", "escalation", "impact"
]

# Heading keywords, Russian and English, lower case; the first kind that matches wins, so
# "Do not" beats "steps" and "root cause" beats "meaning".
_KINDS: list[tuple[Kind, tuple[str, ...]]] = [
    ("never", ("не трогайте", "не делайте", "never", "do not", "don't", "нельзя")),
    ("causes", ("причин", "cause", "reasons", "why it fires")),
    ("diagnosis", ("диагностик", "diagnos", "investigat", "troubleshoot", "triage", "проверк")),
    ("steps", ("first steps", "steps", "шаги", "что делать", "what to do", "порядок действий")),
    (
        "mitigation",
        ("устранени", "mitigat", "remediat", "resolution", "fix", "исправлени", "решени"),
    ),
    ("escalation", ("эскалац", "escalat", "кому звонить", "contacts")),
    ("impact", ("влияни", "impact", "чем грозит")),
    (
        "meaning",
        ("что это значит", "what it means", "what this means", "meaning", "описание", "overview"),
    ),
]
_LIST_ITEM = re.compile(r"^\s{0,3}(?:\d{1,2}[.)]|[-*+])\s+(.*)$")
_NUMBERED_TITLE = re.compile(r"^\s*\d{1,2}[.)]\s*")
_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.S)
_CAUSE_INTRO = re.compile(r"(причин|cause|reason)", re.I)
# A command line in a runbook is shown with a "changes the system" mark unless it is
# recognisably reading; deliberately broad: a false mark costs a glance, a missing one more.
_READ_ONLY = re.compile(
    r"^(?:sudo\s+)?(?:"
    r"(?:kubectl|oc)\s+(?:-n\s+\S+\s+|--namespace[= ]\S+\s+)?"
    r"(?:get|describe|logs|top|explain|auth\s+can-i|rollout\s+(?:history|status)|events)\b"
    r"|helm\s+(?:-n\s+\S+\s+)?(?:history|status|get|list|ls|diff)\b"
    r"|(?:ceph|rados|rbd|radosgw-admin)\b(?!.*\b(?:out|in|rm|purge|reweight|set|unset|"
    r"destroy|create|delete|repair|config\s+set)\b)"
    r"|(?:df|du|ls|cat|grep|egrep|tail|head|less|journalctl|ss|netstat|ping|dig|nslookup|"
    r"free|uptime|top|iostat|vmstat|find|stat|wc|diff|lsblk|smartctl|nc|openssl|date|"
    r"redis-cli\s+.*\b(?:info|slowlog\s+get|latency|memory\s+(?:stats|doctor))\b|"
    r"rabbitmqctl\s+(?:list_\w+|status|cluster_status|environment)|"
    r"rabbitmq-diagnostics|patronictl\s+(?:list|history)|psql\b.*\bselect\b|"
    r"curl\s+(?:-s\S*\s+)*(?!.*-X\s*(?:POST|PUT|DELETE|PATCH))|"
    r"systemctl\s+(?:status|is-active)|export|echo)\b"
    r")",
    re.I,
)
_CHANGING = re.compile(
    r"\b(?:delete|rollback|restart|scale|set|patch|apply|replace|drain|cordon|uncordon|"
    r"reboot|stop|kill|rm|truncate|purge|reweight|destroy|upgrade|install|uninstall|edit|"
    r"annotate|label|taint|run|exec|mv|dd|mkfs|flushall|flushdb|del|unlink|expire|"
    r"failover|switchover|promote|reinit|out|create|repair)\b|-X\s*(?:POST|PUT|DELETE|PATCH)",
    re.I,
)
_SAMPLE = re.compile(r"(пример|example|output|вывод|выглядит|looks like)", re.I)
MAX_STEPS = 5
MAX_CAUSES = 6


@dataclass(frozen=True)
class Section:
    """One section of an indexed document: its heading path (without the document title)
    and the Markdown of its own content."""

    path: tuple[str, ...]
    text: str

    @property
    def heading(self) -> str:
        return self.path[-1] if self.path else ""

    @property
    def label(self) -> str:
        return " › ".join(self.path)


@dataclass
class Document:
    """An indexed document read back in order, with where it came from."""

    title: str
    path: str
    link: str
    source: str
    source_id: int
    document_id: str
    sections: list[Section] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    title: str
    commands: str  # the section's first code block, verbatim
    note: str  # its first sentence of prose
    section: str  # the cited section
    changes: bool  # a command in it changes the system (shown with a warning)


@dataclass(frozen=True)
class Cause:
    text: str
    section: str
    order: int  # position in the runbook: runbooks list the common causes first


def kind_of(heading: str) -> Kind | None:
    low = heading.lower()
    for kind, words in _KINDS:
        if any(w in low for w in words):
            return kind
    return None


def section_kinds(section: Section) -> list[Kind]:
    """Kinds of the section and of its parents (a subsection of «Диагностика» diagnoses)."""
    return [k for k in (kind_of(h) for h in reversed(section.path)) if k is not None]


def strip_markdown(text: str) -> str:
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    return " ".join(text.split())


def first_sentence(text: str, limit: int = 240) -> str:
    prose = _FENCE.sub(" ", text)
    lines = [ln for ln in prose.splitlines() if ln.strip() and not ln.lstrip().startswith("|")]
    flat = strip_markdown(" ".join(lines))
    match = re.match(r"(.+?[.!?:])(\s|$)", flat)
    sentence = match.group(1) if match else flat
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def list_items(text: str) -> list[str]:
    """Items of the Markdown lists in `text`, continuation lines joined."""
    items: list[str] = []
    in_code = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        match = _LIST_ITEM.match(line)
        if match:
            items.append(match.group(1).strip())
        elif items and line.startswith(("  ", "\t")) and line.strip():
            items[-1] += " " + line.strip()
        elif not line.strip():
            continue
        elif items and not _LIST_ITEM.match(line):
            # A paragraph after the list ends it; later lists start new items anyway.
            items.append("\x00")
    return [strip_markdown(i) for i in items if i != "\x00"]


def first_code(text: str) -> str:
    match = _FENCE.search(text)
    return match.group(1).strip("\n") if match else ""


def changes_system(commands: str) -> bool:
    for line in commands.splitlines():
        code = line.split(" #", 1)[0].strip()
        if not code or code.startswith("#") or _READ_ONLY.match(code):
            continue
        if _CHANGING.search(code):
            return True
    return False


def _steps_from(section: Section, children: list[Section]) -> list[Step]:
    """Steps of a diagnosis or steps section: one per subsection, else one per list item."""
    steps: list[Step] = []
    if children:
        for child in children:
            body = child.text
            commands = first_code(body)
            steps.append(
                Step(
                    title=_NUMBERED_TITLE.sub("", child.heading).strip(),
                    commands=commands,
                    note=first_sentence(body),
                    section=child.label,
                    changes=changes_system(commands),
                )
            )
        return steps
    for title, note, commands in pieces(section.text):
        steps.append(
            Step(
                title=title or section.heading,
                commands=commands,
                note=note,
                section=section.label,
                changes=changes_system(commands),
            )
        )
    return steps


def _looks_like_output(language: str, code: str) -> bool:
    """A fence without a language holding a table or a log excerpt shows what to expect."""
    if language:
        return False
    lines = [ln.strip() for ln in code.splitlines() if ln.strip()]
    marked = sum(1 for ln in lines if ln[:1] in "|+[" or ln.startswith(("HEALTH_", "Last State")))
    return bool(lines) and marked * 2 >= len(lines)


def pieces(text: str) -> list[tuple[str, str, str]]:
    """(title, note, commands) per list item of `text`, the code under an item being its
    commands; without a list, one per code block with the paragraph before it."""
    items: list[list[str]] = []  # [first line, prose..., "\x00"+code...]
    paragraphs: list[tuple[str, str]] = []  # (paragraph before, code)
    in_code, indent, prose, fresh, fence = False, 0, "", True, ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            if not in_code:
                in_code, indent = True, len(line) - len(line.lstrip())
                fence = stripped[3:].strip()
                code_lines: list[str] = []
            else:
                in_code = False
                code = "\n".join(code_lines).strip("\n")
                if _looks_like_output(fence, code):
                    pass
                elif items and indent >= 2:
                    items[-1].append("\x00" + code)
                else:
                    paragraphs.append((prose, code))
                    prose = ""  # a second block right after belongs to no paragraph
            continue
        if in_code:
            code_lines.append(line[indent:] if line[:indent].isspace() else line)
            continue
        match = _LIST_ITEM.match(line)
        if match:
            items.append([match.group(1).strip()])
        elif items and line.startswith(("  ", "\t")) and stripped:
            items[-1].append(stripped)
        elif not stripped:
            fresh = True
        elif not stripped.startswith("|"):
            prose = stripped if fresh else f"{prose} {stripped}"
            fresh = False
    steps = []
    for item in items:
        words = [w for w in item if not w.startswith("\x00")]
        codes = [w[1:] for w in item if w.startswith("\x00")]
        title = first_sentence(words[0] if words else "")
        note = first_sentence(" ".join(words[1:])) if len(words) > 1 else ""
        steps.append((title, note, codes[0] if codes else ""))
    # A sample of output ("Example output:", «Пример вывода») is not a step.
    blocks = [(first_sentence(b), "", c) for b, c in paragraphs if c and not _SAMPLE.search(b)]
    # Lists with commands are the steps; otherwise commands with their paragraph are, and a
    # list without commands (how to read the output) is used only when there is nothing else.
    if any(code for _t, _n, code in steps):
        return steps
    return blocks or steps


def tree(doc: Document) -> list[Section]:
    """Every heading of the document in order, each with its own text: a heading with only
    subsections ("## Diagnosis" followed by "### 1. …") is a section too, with empty text."""
    order: list[tuple[str, ...]] = []
    texts: dict[tuple[str, ...], list[str]] = {}
    for section in doc.sections:
        for depth in range(0 if not section.path else 1, len(section.path) + 1):
            prefix = section.path[:depth]
            if prefix not in texts:
                order.append(prefix)
                texts[prefix] = []
        texts[section.path].append(section.text)
    return [Section(p, "\n\n".join(t for t in texts[p] if t.strip())) for p in order]


def _children(doc: Document, parent: Section) -> list[Section]:
    n = len(parent.path)
    return [s for s in tree(doc) if len(s.path) == n + 1 and s.path[:n] == parent.path]


def first_steps(doc: Document, limit: int = MAX_STEPS) -> list[Step]:
    """The runbook's own first steps: its diagnosis (or explicit steps) in order."""
    for wanted in ("steps", "diagnosis"):
        for section in tree(doc):
            if kind_of(section.heading) == wanted and not _is_nested_in(section, wanted):
                steps = _steps_from(section, _children(doc, section))
                if steps:
                    return steps[:limit]
    return []


def _is_nested_in(section: Section, kind: Kind) -> bool:
    return any(kind_of(h) == kind for h in section.path[:-1])


def mitigations(doc: Document, limit: int = MAX_STEPS) -> list[Step]:
    """The fixes the runbook offers, one per case it distinguishes (subsections)."""
    for section in tree(doc):
        if kind_of(section.heading) == "mitigation" and not _is_nested_in(section, "mitigation"):
            children = [c for c in _children(doc, section) if kind_of(c.heading) != "never"]
            return _steps_from(section, children)[:limit]
    return []


def never(doc: Document) -> list[tuple[str, str]]:
    """What the runbook says not to do: (text, section)."""
    out: list[tuple[str, str]] = []
    for section in tree(doc):
        if kind_of(section.heading) == "never":
            items = list_items(section.text) or [first_sentence(section.text)]
            out += [(i, section.label) for i in items if i]
    return out


def causes(doc: Document) -> list[Cause]:
    """Causes the runbook itself lists: a causes section, a list introduced by "causes" in
    any section but the fixes, or a table with a cause column ("Вероятная причина")."""
    found: list[Cause] = []
    for section in tree(doc):
        kind = kind_of(section.heading)
        if kind == "never" or _is_nested_in(section, "mitigation") or kind == "mitigation":
            continue
        if kind == "causes":
            found += [Cause(i, section.label, 0) for i in list_items(section.text)]
        else:
            found += [Cause(i, section.label, 0) for i in _introduced_list(section.text)]
        found += [Cause(i, section.label, 0) for i in _table_causes(section.text)]
    unique: list[Cause] = []
    seen: set[str] = set()
    for cause in found:
        key = cause.text.lower()
        if key not in seen:
            seen.add(key)
            unique.append(Cause(cause.text, cause.section, len(unique)))
    return unique[:MAX_CAUSES]


def _table_causes(text: str) -> list[str]:
    """Rows of a Markdown table whose header has a cause column: "cause (when: symptom)"."""
    out: list[str] = []
    column: int | None = None
    for line in text.splitlines():
        if not line.strip().startswith("|"):
            column = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if column is None:
            column = next((n for n, c in enumerate(cells) if _CAUSE_INTRO.search(c)), None)
            if column is None:
                column = -1
            continue
        if column < 0 or set("".join(cells)) <= set("-: ") or column >= len(cells):
            continue
        others = [c for n, c in enumerate(cells) if n != column and c]
        cause = strip_markdown(cells[column])
        if cause:
            out.append(f"{cause} ({strip_markdown(others[0])})" if others else cause)
    return out


def _introduced_list(text: str) -> list[str]:
    """The list right after a line that announces causes ("Частые причины…:")."""
    lines = text.splitlines()
    for n, line in enumerate(lines):
        if _CAUSE_INTRO.search(line) and not _LIST_ITEM.match(line) and line.rstrip().endswith(":"):
            return list_items("\n".join(lines[n + 1 :]))
    return []


def escalation(doc: Document) -> tuple[str, str] | None:
    for section in tree(doc):
        if kind_of(section.heading) == "escalation":
            return section.text.strip(), section.label
    return None


def mentions(doc: Document, identifier: str) -> bool:
    """Whether the document names `identifier` (an alertname) as a word."""
    if not identifier:
        return False
    pattern = re.compile(rf"(?<![\w]){re.escape(identifier)}(?![\w])")
    return bool(pattern.search(doc.title)) or any(pattern.search(s.text) for s in doc.sections)
