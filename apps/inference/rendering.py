"""Model text -> safe HTML.

An answer is written by a model that has read documents anyone could have edited, so its
text is hostile input: Markdown is rendered with raw HTML disabled, then the HTML is cleaned
again by an allowlist (nh3) so that no tag, attribute or URL scheme outside it survives even
if the renderer had a bug. Images are dropped: an image URL loads by itself and could carry
conversation text to another server.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

MAX_RENDER_CHARS = 200_000
_TOKEN_CLASSES = {c for c in STANDARD_TYPES.values() if c}
_FORMATTER = HtmlFormatter(nowrap=True)

TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
    "span",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
CLASSES = {"span": _TOKEN_CLASSES, "code": {"highlight"}}


def _highlight(code: str, lang: str, _attrs: Any) -> str:
    if not lang:
        return ""
    try:
        lexer = get_lexer_by_name(lang.split()[0].lower())
    except ClassNotFound:
        return ""  # markdown-it escapes the code itself
    return str(highlight(code, lexer, _FORMATTER))


def _image_as_text(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    return escapeHtml(f"[{alt}]") if alt else ""


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "highlight": _highlight})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image_as_text)
    return md


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        allowed_classes=CLASSES,
        url_schemes={"http", "https", "mailto"},
        filter_style_properties={"text-align"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Sanitized HTML for an answer; safe to insert into the page as is."""
    if not text:
        return ""
    return _clean(_markdown().render(text[:MAX_RENDER_CHARS]))


def highlight_css() -> str:
    """The Pygments colours for code blocks (static/css/answer.css embeds this output)."""
    return str(_FORMATTER.get_style_defs(".answer pre"))
