"""Template filters for pages that show model answers (chat, scenario runs): sanitized
Markdown, safe links, and stored messages in the page's language."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from apps.inference.rendering import render_markdown

register = template.Library()


@register.filter
def markdown(value: str) -> SafeString:
    # render_markdown returns allowlist-cleaned HTML, which is what makes mark_safe correct.
    return mark_safe(render_markdown(value or ""))  # noqa: S308


@register.filter
def safe_link(value: str) -> str:
    """A citation link only if it is http(s), mailto or relative; else empty."""
    value = (value or "").strip()
    scheme = urlsplit(value).scheme.lower()
    if scheme in ("http", "https", "mailto") or (not scheme and not value.startswith("//")):
        return value
    return ""


@register.filter
def translated(value: str) -> str:
    """Errors stored with answers are English msgids; show them in the page's language."""
    return gettext(value) if value else ""
