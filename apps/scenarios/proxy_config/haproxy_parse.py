"""An HAProxy config reader: sections (global, defaults, frontend, backend, listen, …) and
their keyword lines, each word with its position so the check can rewrite one argument in
place.

Words follow HAProxy's own line parser: blanks separate, '#' starts a comment, a backslash
escapes the next character, double quotes group (and expand environment variables) and
single quotes group literally; quotes may join parts of one word ("a"'b' is ab).
"""

from __future__ import annotations

from dataclasses import dataclass, field

SECTIONS = {
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "userlist",
    "peers",
    "resolvers",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
    "fcgi-app",
    "crt-store",
    "traces",
}
PROXIES = {"defaults", "frontend", "backend", "listen"}
MAX_LINE = 64 * 1024  # HAProxy itself refuses lines longer than its buffer


class ParseError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class Word:
    value: str
    start: int  # offset in the file, quotes included
    end: int


@dataclass(slots=True)
class Line:
    number: int
    words: list[Word]
    text: str

    @property
    def values(self) -> list[str]:
        return [w.value for w in self.words]

    @property
    def keyword(self) -> str:
        """'timeout connect', 'option httpchk', 'no option redispatch', or the first word."""
        v = self.values
        if v and v[0] == "no" and len(v) > 2 and v[1] == "option":
            return f"no option {v[2]}"
        if v and v[0] in ("timeout", "option", "stats", "http-check") and len(v) > 1:
            return f"{v[0]} {v[1]}"
        return v[0] if v else ""

    def has(self, word: str) -> bool:
        return word in self.values[1:]

    def after(self, word: str) -> str | None:
        """The word following `word` on this line (a keyword's argument)."""
        v = self.values
        for i, x in enumerate(v[:-1]):
            if x == word and i > 0:
                return v[i + 1]
        return None


@dataclass(eq=False)
class Section:
    kind: str
    name: str
    line: int
    file: str
    lines: list[Line] = field(default_factory=list)
    header: Line | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}".strip()

    def get(self, keyword: str) -> list[Line]:
        return [ln for ln in self.lines if ln.keyword == keyword]

    def first(self, keyword: str) -> Line | None:
        found = self.get(keyword)
        return found[-1] if found else None  # the last one wins in HAProxy


def words(text: str, offset: int, number: int) -> list[Word]:
    """The words of one line starting at file offset `offset`."""
    out: list[Word] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r":
            i += 1
        if i >= n or text[i] == "#":
            break
        start = i
        buf: list[str] = []
        quote = ""
        while i < n:
            c = text[i]
            if quote:
                if c == "\\" and quote == '"' and i + 1 < n:
                    buf.append(text[i + 1])
                    i += 2
                    continue
                if c == quote:
                    quote = ""
                else:
                    buf.append(c)
                i += 1
                continue
            if c in " \t\r":
                break
            if c == "#":
                break
            if c == "\\" and i + 1 < n:
                buf.append(text[i + 1])
                i += 2
                continue
            if c in "\"'":
                quote = c
                i += 1
                continue
            buf.append(c)
            i += 1
        if quote:
            raise ParseError("unmatched quote", number)
        out.append(Word("".join(buf), offset + start, offset + i))
    return out


def parse(text: str, file: str) -> list[Section]:
    """The sections of one file. Lines before the first section header go into a
    section of kind '' (HAProxy refuses keywords there; the tool says so)."""
    sections: list[Section] = []
    current = Section("", "", 0, file)
    offset = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        if len(raw) > MAX_LINE:
            raise ParseError(f"line longer than {MAX_LINE} characters", number)
        ws = words(raw, offset, number)
        offset += len(raw) + 1
        if not ws:
            continue
        line = Line(number, ws, raw)
        head = ws[0].value
        if head in SECTIONS:
            name = ws[1].value if len(ws) > 1 and ws[1].value != "from" else ""
            current = Section(head, name, number, file, header=line)
            sections.append(current)
            continue
        if current.kind == "" and current not in sections:
            sections.append(current)
        current.lines.append(line)
    return sections
