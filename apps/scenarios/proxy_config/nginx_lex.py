"""An nginx tokenizer that keeps each token's position in the text.

crossplane builds the tree the rules read, but it drops positions; the checker must rewrite
single arguments of the copy it hands to `nginx -t` (an include made relative, a certificate
path pointed at a stand-in, a hostname pointed at loopback) without moving any line, so the
tool's line numbers stay the user's. The tokenizing rules follow nginx's own reader (and
crossplane's): whitespace separates, `;`, `{` and `}` are tokens, `#` starts a comment at a
token start, quotes make one token with backslash escapes, `${...}` does not open a block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_DEPTH = 32  # real configs stay under ~8 (http > server > location > location > if)


class LexError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class Token:
    value: str  # unquoted
    line: int
    start: int  # offset in the text, quotes included
    end: int
    quoted: bool = False


@dataclass(slots=True)
class Stmt:
    """One directive: its name token, argument tokens and, for a block, the inner statements."""

    name: Token
    args: list[Token]
    end: int  # offset after its ';' or closing '}'
    brace: int = -1  # offset of its '{' for a block
    block: list[Stmt] | None = None
    depth: int = 0
    parent: Stmt | None = field(default=None, repr=False)

    @property
    def directive(self) -> str:
        return self.name.value

    @property
    def line(self) -> int:
        return self.name.line

    @property
    def values(self) -> list[str]:
        return [a.value for a in self.args]


def tokens(text: str) -> list[Token]:
    """All tokens of `text` except comments, in order."""
    out: list[Token] = []
    i, n, line = 0, len(text), 1
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch.isspace():
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch in ";{}":
            out.append(Token(ch, line, i, i + 1))
            i += 1
        elif ch in "\"'":
            start, start_line = i, line
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise LexError("unexpected end of file: a quote is not closed", start_line)
                c = text[i]
                if c == "\\" and i + 1 < n:
                    # nginx keeps the backslash except before the quote character itself
                    nxt = text[i + 1]
                    buf.append(nxt if nxt == ch else c + nxt)
                    line += nxt == "\n"
                    i += 2
                    continue
                if c == ch:
                    i += 1
                    break
                line += c == "\n"
                buf.append(c)
                i += 1
            out.append(Token("".join(buf), start_line, start, i, quoted=True))
        else:
            start = i
            buf = []
            while i < n:
                c = text[i]
                if c == "\\" and i + 1 < n:
                    buf.append(text[i : i + 2])
                    line += text[i + 1] == "\n"
                    i += 2
                    continue
                if c == "{" and buf and buf[-1].endswith("$"):
                    # ${var}: the brace belongs to the variable name, up to "}" or a space
                    while i < n and not text[i].isspace():
                        buf.append(text[i])
                        i += 1
                        if text[i - 1] == "}":
                            break
                    continue
                if c.isspace() or c in ";{}":
                    break
                buf.append(c)
                i += 1
            out.append(Token("".join(buf), line, start, i))
    return out


def parse(text: str) -> list[Stmt]:
    """The statement tree of one file. Raises LexError naming the line for unbalanced
    braces, a directive without its ';', a quote left open or nesting deeper than
    MAX_DEPTH (a config nested hundreds deep is an attack on the parsers, not a config)."""
    toks = tokens(text)
    root: list[Stmt] = []
    stack: list[tuple[list[Stmt], Stmt | None]] = [(root, None)]
    i = 0
    while i < len(toks):
        tok = toks[i]
        body, parent = stack[-1]
        if tok.value == "}" and not tok.quoted:
            if parent is None:
                raise LexError('unexpected "}"', tok.line)
            parent.end = tok.end
            stack.pop()
            i += 1
            continue
        if tok.value in (";", "{") and not tok.quoted:
            raise LexError(f'unexpected "{tok.value}"', tok.line)
        args: list[Token] = []
        i += 1
        while i < len(toks) and (toks[i].quoted or toks[i].value not in (";", "{", "}")):
            args.append(toks[i])
            i += 1
        if i >= len(toks):
            raise LexError(f'unexpected end of file: "{tok.value}" has no ";"', tok.line)
        term = toks[i]
        if term.value == "}":
            raise LexError(f'"{tok.value}" is not terminated by ";"', tok.line)
        depth = len(stack) - 1
        stmt = Stmt(tok, args, term.end, depth=depth, parent=parent)
        body.append(stmt)
        i += 1
        if term.value == "{":
            stmt.brace = term.start
            if depth + 1 > MAX_DEPTH:
                raise LexError(f"blocks nested deeper than {MAX_DEPTH} levels", tok.line)
            stmt.block = []
            stack.append((stmt.block, stmt))
    if len(stack) > 1:
        opened = stack[-1][1]
        line = opened.line if opened else 1
        raise LexError(
            f'unexpected end of file, expecting "}}" (block opened at line {line})', line
        )
    return root


def walk(stmts: list[Stmt]) -> list[Stmt]:
    """Every statement, depth first, in text order."""
    out: list[Stmt] = []
    todo = list(reversed(stmts))
    while todo:
        s = todo.pop()
        out.append(s)
        if s.block:
            todo.extend(reversed(s.block))
    return out


def replace(text: str, edits: dict[tuple[int, int], str]) -> str:
    """`text` with the spans (start, end) replaced. Replacements must not contain newlines,
    so every line keeps its number."""
    out: list[str] = []
    pos = 0
    for (start, end), new in sorted(edits.items()):
        if "\n" in new:
            raise ValueError("a replacement must stay on its line")
        out.append(text[pos:start])
        # a span that covered newlines (a multi-line statement blanked out) keeps them
        out.append(new + "\n" * text.count("\n", start, end))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def quote(value: str) -> str:
    """A token as nginx reads it back (our replacements are paths and addresses)."""
    if value and not any(c.isspace() or c in ";{}#\"'\\" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
