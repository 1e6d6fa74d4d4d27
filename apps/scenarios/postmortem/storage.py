"""Markdown of a post-mortem as Confluence storage format (XHTML), safely.

The report is the author's text, and it quotes chat messages, alerts and log lines that
anyone could have written. So nothing of it is passed through as markup: every piece of
text is escaped (`<`, `>`, `&`, quotes), and the only elements in the result are the few
this module writes itself (headings, paragraphs, lists, tables, <pre>, <code>, <strong>,
<em>, and <a> for http(s) links). A `<script>`, a CDATA section or an
`<ac:structured-macro>` in the Markdown arrives on the page as the visible characters it
is made of. Characters XML 1.0 forbids (most control characters) are dropped, so the page
body is always well-formed and Confluence never refuses it as invalid XHTML.
"""

from __future__ import annotations

import re
from html import escape

_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_ORDERED = re.compile(r"^(\s*)\d{1,9}[.)]\s+(.*)$")
_TASK = re.compile(r"^\[([ xX])\]\s+(.*)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
# Inline: code spans first (their content is literal), then links, bold, italic.
_INLINE = re.compile(
    r"(?P<code>`[^`\n]+`)"
    r"|\[(?P<label>[^\]\n]{1,500})\]\((?P<url>[^)\s]{1,2000})\)"
    r"|\*\*(?P<bold>[^*\n]+)\*\*"
    r"|(?<![\w*])\*(?P<em>[^*\n]+)\*(?![\w*])"
)


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("", value), quote=True)


def inline(value: str) -> str:
    """One line of Markdown as escaped XHTML with code, links, bold and italic."""
    out: list[str] = []
    pos = 0
    for m in _INLINE.finditer(value):
        out.append(_text(value[pos : m.start()]))
        if m.group("code"):
            out.append(f"<code>{_text(m.group('code')[1:-1])}</code>")
        elif m.group("url"):
            url = m.group("url")
            label = _text(m.group("label"))
            # Only web links: javascript:, data: and the like stay visible text.
            if re.match(r"https?://", url, re.I):
                out.append(f'<a href="{_text(url)}">{label}</a>')
            else:
                out.append(_text(m.group(0)))
        elif m.group("bold"):
            out.append(f"<strong>{_text(m.group('bold'))}</strong>")
        else:
            out.append(f"<em>{_text(m.group('em'))}</em>")
        pos = m.end()
    out.append(_text(value[pos:]))
    return "".join(out)


def _cells(line: str) -> list[str]:
    row = line.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)]


def _table(rows: list[str]) -> str:
    head, body = rows[0], rows[1:]
    if body and _TABLE_RULE.match(body[0]):
        body = body[1:]
        header = "".join(f"<th>{inline(c)}</th>" for c in _cells(head))
        parts = [f"<tr>{header}</tr>"]
    else:
        body = rows
        parts = []
    for line in body:
        if _TABLE_RULE.match(line):
            continue
        parts.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in _cells(line)) + "</tr>")
    return "<table><tbody>" + "".join(parts) + "</tbody></table>"


def _item(text: str) -> str:
    task = _TASK.match(text)
    if task:
        mark = "☑" if task.group(1) in "xX" else "☐"
        return f"<li>{mark} {inline(task.group(2))}</li>"
    return f"<li>{inline(text)}</li>"


def convert(markdown: str) -> str:
    """The Markdown as a storage-format body. Block structure: headings, paragraphs,
    bulleted, numbered and task lists (one level), pipe tables, fenced code as <pre>."""
    lines = markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            out.append("<p>" + "<br/>".join(inline(p) for p in para) + "</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            flush()
            fence = line.strip()[:3]
            code: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                code.append(lines[i])
                i += 1
            i += 1  # the closing fence (or the end)
            out.append(f"<pre>{_text(chr(10).join(code))}</pre>")
            continue
        if not line.strip():
            flush()
            i += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
            i += 1
            continue
        if line.lstrip().startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(lines[i])
                i += 1
            out.append(_table(rows))
            continue
        for pattern, tag in ((_BULLET, "ul"), (_ORDERED, "ol")):
            if pattern.match(line):
                flush()
                items = []
                while i < len(lines) and (m := pattern.match(lines[i])):
                    items.append(_item(m.group(2)))
                    i += 1
                out.append(f"<{tag}>" + "".join(items) + f"</{tag}>")
                break
        else:
            para.append(line.strip())
            i += 1
    flush()
    return "".join(out)
