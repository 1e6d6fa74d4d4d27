"""Onboarding track files: a YAML file, or Markdown with a YAML header, read into steps.

A track is kept in a knowledge source (the team's Git repository, a directory, uploads) under
a name ending in `.track.yaml`, `.track.yml` or `.track.md`; the source's sync finds it.

    # sre.track.yaml
    track: sre                      # the name newcomers and the messenger use
    title: SRE onboarding
    groups: [sre]                   # LDAP groups whose members follow it
    leads: [sre-leads]              # groups whose members see the newcomers' progress
    steps:
      - title: Read the on-call runbook
        read: [runbooks/oncall.md, "https://sre.google/sre-book/being-on-call/"]
        access: [LDAP group k8s-readers]
        verify: kubectl get nodes lists the nodes

The Markdown form has the same header between `---` lines, then one `## ` heading per step;
under it the lines after `Read:` / `Прочитать:`, `Access:` / `Доступ:` and `Verify:` /
`Проверка:` are the step's lists (list items, or the rest of the label's line). A Markdown
link's target is the link; a bare path or URL is one too.

Errors name the line: a person fixes a track file from the message alone.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml
from django.utils.text import slugify
from django.utils.translation import gettext as _

from apps.scenarios.engine import yamlsafe
from apps.scenarios.engine.base import InputError, check_size

SUFFIXES = (".track.yaml", ".track.yml", ".track.md")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MAX_STEPS = 200
MAX_ITEMS = 50
MAX_TEXT = 2000


def is_track_path(path: str) -> bool:
    return path.lower().endswith(SUFFIXES)


@dataclass
class Link:
    """Something to read: a document of the knowledge base by its path, or a URL."""

    target: str
    label: str = ""
    line: int | None = None

    @property
    def external(self) -> bool:
        return self.target.lower().startswith(("http://", "https://"))


@dataclass
class Step:
    key: str
    title: str
    read: list[Link] = field(default_factory=list)
    access: list[str] = field(default_factory=list)
    verify: list[str] = field(default_factory=list)
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrackFile:
    name: str
    title: str
    groups: list[str]
    leads: list[str]
    steps: list[Step]
    description: str = ""

    def links(self) -> list[Link]:
        seen: dict[str, Link] = {}
        for step in self.steps:
            for link in step.read:
                seen.setdefault(link.target, link)
        return list(seen.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "track": self.name,
            "title": self.title,
            "groups": self.groups,
            "leads": self.leads,
            "description": self.description,
            "steps": [s.to_dict() for s in self.steps],
        }


def parse(text: str, filename: str = "") -> TrackFile:
    """A track from its file's text; Markdown when the name ends .md or the text starts with
    a `---` header followed by headings, YAML otherwise. InputError names the line."""
    check_size(text)
    if filename.lower().endswith(".md") or (
        text.lstrip().startswith("---") and re.search(r"(?m)^##\s", text)
    ):
        return _markdown(text)
    return _yaml(text)


# --- YAML -------------------------------------------------------------------------------------


def _strings(node: yaml.Node | None, what: str, line: int) -> list[str]:
    """A string or a list of strings."""
    if node is None:
        return []
    if yamlsafe.is_scalar(node):
        value = (yamlsafe.text(node) or "").strip()
        return [value[:MAX_TEXT]] if value else []
    if not yamlsafe.is_seq(node):
        raise InputError(
            _("%(what)s must be a text or a list of texts") % {"what": what},
            line=yamlsafe.line_of(node),
        )
    out: list[str] = []
    for item in yamlsafe.seq(node)[:MAX_ITEMS]:
        item_text = yamlsafe.text(item)
        if item_text is None:
            raise InputError(
                _("%(what)s: each item must be a text") % {"what": what},
                line=yamlsafe.line_of(item),
            )
        if item_text.strip():
            out.append(item_text.strip()[:MAX_TEXT])
    return out


def _yaml(text: str) -> TrackFile:
    docs = yamlsafe.load(text)
    if not docs:
        raise InputError(_("the track file is empty"), line=1)
    root = docs[0]
    if not yamlsafe.is_map(root):
        raise InputError(
            _("a track is a mapping with track, title, groups and steps"),
            line=yamlsafe.line_of(root),
        )
    return _build(root, base_line=0)


def _build(root: yaml.Node, base_line: int, steps: list[Step] | None = None) -> TrackFile:
    def at(node: yaml.Node) -> int:
        return yamlsafe.line_of(node) + base_line

    known = {"track", "name", "title", "groups", "leads", "description", "steps"}
    for key, knode, _value in yamlsafe.items(root):
        if key not in known:
            raise InputError(
                _("unknown key %(key)r; a track has: %(known)s")
                % {"key": key, "known": ", ".join(sorted(known - {"name"}))},
                line=at(knode),
            )
    name_node = yamlsafe.get(root, "track") or yamlsafe.get(root, "name")
    name = (yamlsafe.text(name_node) or "").strip()
    if not name:
        raise InputError(_("the track has no name (track: sre)"), line=at(root), field="track")
    if not NAME.match(name):
        raise InputError(
            _(
                "track name %(name)r: use lowercase letters, digits, '-' and '_' "
                "(at most 63 characters)"
            )
            % {"name": name},
            line=at(name_node) if name_node else None,
            field="track",
        )
    title = (yamlsafe.text(yamlsafe.get(root, "title")) or "").strip()[:200] or name
    groups_node = yamlsafe.get(root, "groups")
    groups = _strings(groups_node, "groups", at(root))
    if not groups:
        raise InputError(
            _("the track names no groups (groups: [sre]): nobody would see it"),
            line=at(groups_node) if groups_node else at(root),
            field="groups",
        )
    leads = _strings(yamlsafe.get(root, "leads"), "leads", at(root))
    description = (yamlsafe.text(yamlsafe.get(root, "description")) or "").strip()[:MAX_TEXT]
    if steps is not None:
        return TrackFile(name, title, groups, leads, steps, description)
    steps_node = yamlsafe.get(root, "steps")
    if not yamlsafe.is_seq(steps_node) or not yamlsafe.seq(steps_node):
        raise InputError(
            _("the track has no steps (steps: a list of steps with a title each)"),
            line=at(steps_node) if steps_node is not None else at(root),
            field="steps",
        )
    steps = []
    for node in yamlsafe.seq(steps_node)[: MAX_STEPS + 1]:
        if len(steps) >= MAX_STEPS:
            raise InputError(_("a track has at most %(n)d steps") % {"n": MAX_STEPS}, line=at(node))
        steps.append(_yaml_step(node, at))
    _unique_keys(steps)
    return TrackFile(name, title, groups, leads, steps, description)


def _yaml_step(node: yaml.Node, at: Any) -> Step:
    if yamlsafe.is_scalar(node):
        title = (yamlsafe.text(node) or "").strip()
        if not title:
            raise InputError(_("a step has no title"), line=at(node))
        return Step(key="", title=title[:300], line=at(node))
    if not yamlsafe.is_map(node):
        raise InputError(_("a step is a mapping with a title"), line=at(node))
    known = {"id", "title", "read", "access", "verify"}
    for key, knode, _value in yamlsafe.items(node):
        if key not in known:
            raise InputError(
                _("unknown key %(key)r in a step; a step has: %(known)s")
                % {"key": key, "known": ", ".join(sorted(known))},
                line=at(knode),
            )
    title = (yamlsafe.text(yamlsafe.get(node, "title")) or "").strip()
    if not title:
        raise InputError(_("a step has no title"), line=at(node), field="title")
    line = at(node)
    read = [_link(value, line) for value in _strings(yamlsafe.get(node, "read"), "read", line)]
    return Step(
        key=(yamlsafe.text(yamlsafe.get(node, "id")) or "").strip(),
        title=title[:300],
        read=read,
        access=_strings(yamlsafe.get(node, "access"), "access", line),
        verify=_strings(yamlsafe.get(node, "verify"), "verify", line),
        line=line,
    )


_MD_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _link(value: str, line: int | None) -> Link:
    """A Markdown link `[label](target)`, or a bare path or URL (the rest is its label)."""
    match = _MD_LINK.search(value)
    if match:
        return Link(target=match.group(2).strip(), label=match.group(1).strip(), line=line)
    target, _sep, rest = value.strip().partition(" ")
    return Link(target=target.strip("<>"), label=rest.strip(" -—:"), line=line)


def _unique_keys(steps: list[Step]) -> None:
    """Each step gets a stable key (its id, else its title as a slug): progress is kept by
    key, so reordering steps in the file keeps everyone's progress."""
    seen: set[str] = set()
    for step in steps:
        base = slugify(step.key or step.title, allow_unicode=True)[:60] or "step"
        key, n = base, 2
        while key in seen:
            key, n = f"{base}-{n}", n + 1
        if step.key and key != slugify(step.key, allow_unicode=True)[:60]:
            raise InputError(_("two steps have the id %(id)r") % {"id": step.key}, line=step.line)
        seen.add(key)
        step.key = key


# --- Markdown ---------------------------------------------------------------------------------

_LABELS = {
    "read": ("read", "reading", "прочитать", "читать", "что прочитать"),
    "access": ("access", "доступ", "доступы", "запросить доступ"),
    "verify": ("verify", "check", "done when", "проверка", "проверить", "готово, когда"),
}
_LABEL = re.compile(r"^\s*(?:\*\*|__)?([^:*_]{2,30}?)(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(.*)$")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")


def _label(line: str) -> tuple[str, str] | None:
    match = _LABEL.match(line)
    if not match:
        return None
    word = match.group(1).strip().lower()
    for kind, words in _LABELS.items():
        if word in words:
            return kind, match.group(2).strip()
    return None


def _markdown(text: str) -> TrackFile:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None or lines[start].strip() != "---":
        raise InputError(
            _("a Markdown track starts with a YAML header between '---' lines (track, groups)"),
            line=(start or 0) + 1,
        )
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise InputError(_("the header opened by '---' is not closed"), line=start + 1)
    header_text = "\n".join(lines[start + 1 : end]) or "{}"
    try:
        docs = yamlsafe.load(header_text)
    except InputError as exc:
        raise InputError(exc.message, line=(exc.line or 1) + start + 1, field=exc.field) from None
    header = docs[0] if docs else None
    if not yamlsafe.is_map(header):
        raise InputError(_("the header must be a mapping (track: sre)"), line=start + 2)
    assert header is not None
    if yamlsafe.get(header, "steps") is not None:
        raise InputError(
            _("in a Markdown track the steps are the '## ' headings, not a steps key"),
            line=yamlsafe.line_of(yamlsafe.key_node(header, "steps") or header) + start + 1,
        )
    steps: list[Step] = []
    current: Step | None = None
    kind: str | None = None
    description: list[str] = []
    in_code = False
    for number, line in enumerate(lines[end + 1 :], start=end + 2):
        if line.strip().startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        if line.startswith("## "):
            title = line[3:].strip().strip("#").strip()
            if not title:
                raise InputError(_("a step has no title"), line=number)
            if len(steps) >= MAX_STEPS:
                raise InputError(
                    _("a track has at most %(n)d steps") % {"n": MAX_STEPS}, line=number
                )
            current = Step(key="", title=title[:300], line=number)
            steps.append(current)
            kind = None
            continue
        if current is None:
            if line.strip() and not line.startswith("#"):
                description.append(line.strip())
            continue
        labelled = _label(line)
        if labelled:
            kind, rest = labelled
            if rest:
                _add(current, kind, rest, number)
            continue
        item = _ITEM.match(line)
        if item and kind:
            _add(current, kind, item.group(1).strip(), number)
        elif not line.strip():
            continue
        elif not item:
            kind = None
    if not steps:
        raise InputError(
            _("the track has no steps: write one '## ' heading per step"),
            line=end + 2 if end + 1 < len(lines) else end + 1,
            field="steps",
        )
    # The header's own checks (name, groups) with the header's lines, and the steps found.
    track = _build(header, base_line=start + 1, steps=steps)
    if description and not track.description:
        track.description = " ".join(description)[:MAX_TEXT]
    _unique_keys(steps)
    return track


def _add(step: Step, kind: str, value: str, line: int) -> None:
    value = value.strip()[:MAX_TEXT]
    if not value:
        return
    if kind == "read":
        if len(step.read) < MAX_ITEMS:
            step.read.append(_link(value, line))
    elif kind == "access":
        step.access = [*step.access, value][:MAX_ITEMS]
    else:
        step.verify = [*step.verify, value][:MAX_ITEMS]
