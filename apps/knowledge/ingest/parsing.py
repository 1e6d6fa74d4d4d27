"""Turn a document's bytes into titled, structured blocks.

Every parser yields Blocks that carry the heading path they sit under and a kind; the
chunker keeps code and tables whole and never merges across sections. A file that cannot be
read raises ParseError with a message an admin can act on.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

TEXT = "text"
CODE = "code"
TABLE = "table"


class ParseError(Exception):
    """The document cannot be indexed; the message is shown per document in the job."""


@dataclass
class Block:
    kind: str
    text: str
    section: tuple[str, ...] = ()


@dataclass
class Parsed:
    title: str
    blocks: list[Block] = field(default_factory=list)


def _decode(data: bytes) -> str:
    if not data.strip():
        raise ParseError("the file is empty")
    head = data[:8192]
    if b"\x00" in head:
        raise ParseError("binary content (NUL bytes), not a text document")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        # A few bad bytes in a long text file are typos; many mean it is not text at all.
        if text.count("\ufffd") > max(8, len(text) // 100):
            raise ParseError("binary content, not UTF-8 text") from None
        return text


_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_TITLE_LINE = re.compile(r"^title:\s*['\"]?(.+?)['\"]?\s*$", re.M)


def _front_matter(text: str) -> tuple[str, str]:
    """Strip YAML front matter (Hugo/Jekyll docs) and return (title, body)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return "", text
    title = _TITLE_LINE.search(match.group(1))
    return (title.group(1).strip() if title else ""), text[match.end() :]


def parse_markdown(data: bytes, name: str) -> Parsed:
    from markdown_it import MarkdownIt

    title, text = _front_matter(_decode(data))
    lines = text.splitlines()
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            level = int(tok.tag[1])
            heading = tokens[i + 1].content.strip()
            if level == 1 and not title:
                title = heading
            path = [p for p in path if p[0] < level] + [(level, heading)]
            i += 3
            continue
        if tok.level == 0 and tok.map and tok.type != "hr":
            start, end = tok.map
            chunk = "\n".join(lines[start:end]).strip()
            kind = CODE if tok.type in ("fence", "code_block") else TEXT
            if tok.type == "table_open":
                kind = TABLE
            if chunk:
                blocks.append(Block(kind, chunk, tuple(h for _, h in path)))
            if tok.nesting == 1:  # skip to the matching close token
                depth = 1
                while depth and i + 1 < len(tokens):
                    i += 1
                    depth += tokens[i].nesting if tokens[i].level == 0 else 0
        i += 1
    return Parsed(title, blocks)


_RST_LITERAL = ("literal_block", "doctest_block")


def parse_rst(data: bytes, name: str) -> Parsed:
    import docutils.core
    import docutils.nodes as nodes

    text = _decode(data)
    overrides = {
        "report_level": 5,
        "halt_level": 5,
        "warning_stream": io.StringIO(),
        "file_insertion_enabled": False,
        "raw_enabled": False,
        "doctitle_xform": False,
    }
    try:
        tree = docutils.core.publish_doctree(text, settings_overrides=overrides)
    except Exception as exc:
        raise ParseError(f"reStructuredText could not be parsed: {exc}") from None
    blocks: list[Block] = []
    title = ""

    def walk(node: nodes.Node, path: tuple[str, ...]) -> None:
        nonlocal title
        for child in node.children:
            if isinstance(child, nodes.section):
                heading = child.next_node(nodes.title)
                label = heading.astext().strip() if heading else ""
                if not title:
                    title = label
                walk(child, (*path, label) if label else path)
            elif isinstance(child, nodes.title | nodes.system_message | nodes.comment):
                continue
            elif child.tagname in _RST_LITERAL:
                blocks.append(Block(CODE, child.astext(), path))
            elif isinstance(child, nodes.table):
                blocks.append(Block(TABLE, child.astext(), path))
            elif isinstance(child, nodes.Element) and any(
                d.tagname in _RST_LITERAL or isinstance(d, nodes.section | nodes.table)
                for d in child.findall(include_self=False)
            ):
                walk(child, path)  # e.g. a note or list holding a code block: go inside
            elif isinstance(child, nodes.Element | nodes.Text):
                content = child.astext().strip()
                if content:
                    blocks.append(Block(TEXT, content, path))

    walk(tree, ())
    return Parsed(title, blocks)


_UNDERLINE = re.compile(r"^\s*([=\-~^*#])\1{2,}\s*$")
_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S.{0,100}$")


def parse_text(data: bytes, name: str) -> Parsed:
    """Plain text: paragraphs split by blank lines; underlined or numbered lines
    ("5.2. Server options") are headings, indented runs are kept as code."""
    text = _decode(data)
    lines = text.splitlines()
    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            body = "\n".join(para).strip()
            if body:
                indented = all(not ln.strip() or ln.startswith(("  ", "\t")) for ln in para)
                blocks.append(Block(CODE if indented else TEXT, body, tuple(h for _, h in path)))
            para.clear()

    for n, line in enumerate(lines):
        nxt = lines[n + 1] if n + 1 < len(lines) else ""
        if _UNDERLINE.match(line) and not para:
            continue
        heading = ""
        level = 1
        if line.strip() and _UNDERLINE.match(nxt) and len(line.strip()) <= 100:
            heading = line.strip()
        elif (
            (m := _NUMBERED.match(line))
            and not para
            and not line.startswith(" ")
            and (not nxt.strip() or _UNDERLINE.match(nxt))
        ):
            heading, level = line.strip(), m.group(1).count(".") + 1
        if heading:
            flush()
            path = [p for p in path if p[0] < level] + [(level, heading)]
            continue
        if not line.strip():
            flush()
        else:
            para.append(line)
    flush()
    title = next((b.text.splitlines()[0] for b in blocks), "")[:200]
    if path or blocks:
        first_heading = next((b.section[0] for b in blocks if b.section), "")
        title = first_heading or title
    return Parsed(title, blocks)


def parse_html(data: bytes, name: str) -> Parsed:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(data), "lxml")
    for tag in soup(["script", "style", "nav", "footer", "header", "noscript", "svg", "form"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    body = soup.body or soup
    for el in body.find_all(
        ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "table", "dd", "dt"]
    ):
        if el.find_parent(["pre", "table", "li"]) and el.name not in ("h1", "h2", "h3"):
            continue
        section = tuple(h for _, h in path)
        if el.name[0] == "h" and el.name[1:].isdigit():
            level = int(el.name[1])
            heading = el.get_text(" ", strip=True)
            title = title or heading
            path = [p for p in path if p[0] < level] + [(level, heading)]
        elif el.name == "pre":
            blocks.append(Block(CODE, el.get_text(), section))
        elif el.name == "table":
            rows = [
                " | ".join(c.get_text(" ", strip=True) for c in r.find_all(["td", "th"]))
                for r in el.find_all("tr")
            ]
            blocks.append(Block(TABLE, "\n".join(rows), section))
        else:
            content = el.get_text(" ", strip=True)
            if content:
                blocks.append(Block(TEXT, ("- " if el.name == "li" else "") + content, section))
    return Parsed(title, blocks)


def parse_pdf(data: bytes, name: str) -> Parsed:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ParseError(f"not a readable PDF: {exc}") from None
    blocks = []
    for n, page in enumerate(pages, start=1):
        for para in re.split(r"\n\s*\n", page):
            if para.strip():
                blocks.append(Block(TEXT, para.strip(), (f"p. {n}",)))
    return Parsed(str(meta_title), blocks)


def parse_docx(data: bytes, name: str) -> Parsed:
    import zipfile

    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ParseError(f"not a readable DOCX file: {exc}") from None
    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    title = document.core_properties.title or ""
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        section = tuple(h for _, h in path)
        if tag == "p":
            para = Paragraph(child, document)
            text = para.text.strip()
            style = (para.style.name if para.style is not None else "") or ""
            if not text:
                continue
            if style.startswith("Heading") or style == "Title":
                level = int(style.split()[-1]) if style.split()[-1].isdigit() else 1
                title = title or text
                path = [p for p in path if p[0] < level] + [(level, text)]
            else:
                blocks.append(Block(TEXT, text, section))
        elif tag == "tbl":
            table = Table(child, document)
            rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
            blocks.append(Block(TABLE, "\n".join(rows), section))
    return Parsed(title, blocks)


def parse_nginx_xml(data: bytes, name: str) -> Parsed:
    """nginx.org's documentation XML: <module>/<article> with <section>s and <directive>s."""
    from lxml import etree

    parser = etree.XMLParser(recover=True, resolve_entities=False, load_dtd=False, no_network=True)
    try:
        root = etree.fromstring(data, parser=parser)  # noqa: S320 (no DTD, no network)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"malformed XML: {exc}") from None
    if root is None:
        raise ParseError("malformed XML: no root element")
    title = root.get("name") or root.get("title") or ""
    blocks: list[Block] = []

    def text_of(el: etree._Element) -> str:
        return re.sub(r"[ \t]+", " ", "".join(el.itertext())).strip()

    def walk(el: etree._Element, path: tuple[str, ...]) -> None:
        for child in el:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag == "section":
                label = child.get("name") or child.get("id") or ""
                walk(child, (*path, label) if label else path)
            elif tag == "directive":
                dname = child.get("name", "")
                dpath = (*path, dname)
                facts = []
                for key in ("syntax", "default", "context"):
                    values = [text_of(x) for x in child.findall(key)]
                    if values:
                        facts.append(f"{key.capitalize()}: {'; '.join(v or '—' for v in values)}")
                blocks.append(Block(TEXT, f"{dname}\n" + "\n".join(facts), dpath))
                walk(child, dpath)
            elif tag in ("example", "programlisting"):
                blocks.append(Block(CODE, "".join(child.itertext()).strip("\n"), path))
            elif tag in ("para", "list", "note", "table"):
                if child.find(".//example") is not None:
                    walk(child, path)
                    continue
                content = text_of(child)
                if content:
                    blocks.append(Block(TABLE if tag == "table" else TEXT, content, path))
            elif tag in ("syntax", "default", "context", "appendix"):
                continue
            elif len(child):
                walk(child, path)

    walk(root, ())
    return Parsed(title, blocks)


CSV_ROWS_PER_BLOCK = 25


def parse_csv(data: bytes, name: str) -> Parsed:
    """CSV (a spreadsheet exported from Google Sheets, or a .csv file): table blocks of a few
    rows, each starting with the header row so a chunk still says what its columns are."""
    import csv

    text = _decode(data)
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline="")) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise ParseError(f"not valid CSV: {exc}") from None
    if not rows:
        raise ParseError("no rows in the table")
    header, body = rows[0], rows[1:]
    blocks = []
    for start in range(0, max(len(body), 1), CSV_ROWS_PER_BLOCK):
        part = [header, *body[start : start + CSV_ROWS_PER_BLOCK]]
        blocks.append(Block(TABLE, "\n".join(" | ".join(c.strip() for c in r) for r in part)))
    return Parsed("", blocks)


PARSERS: dict[str, Callable[[bytes, str], Parsed]] = {
    ".csv": parse_csv,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".rst": parse_rst,
    ".txt": parse_text,
    ".text": parse_text,
    ".log": parse_text,
    ".yaml": parse_text,
    ".yml": parse_text,
    ".conf": parse_text,
    ".html": parse_html,
    ".htm": parse_html,
    ".pdf": parse_pdf,
    ".docx": parse_docx,
    ".xml": parse_nginx_xml,
}


def supported(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in PARSERS


def parse(data: bytes, name: str, content_type: str = "") -> Parsed:
    """Parse by extension (or content type for web pages); the title falls back to the name."""
    suffix = PurePosixPath(name).suffix.lower()
    parser = PARSERS.get(suffix)
    if parser is None and "html" in content_type:
        parser = parse_html
    if parser is None:
        raise ParseError(f"unsupported file type {suffix or '(none)'}")
    if not data.strip():
        raise ParseError("the file is empty")
    if suffix not in (".pdf", ".docx") and b"\x00" in data[:8192]:
        raise ParseError("binary content (NUL bytes), not a text document")
    parsed = parser(data, name)
    parsed.blocks = [b for b in parsed.blocks if b.text.strip()]
    if not parsed.blocks:
        raise ParseError("no text found in the document")
    parsed.title = (parsed.title or PurePosixPath(name).stem).strip()[:500]
    return parsed
