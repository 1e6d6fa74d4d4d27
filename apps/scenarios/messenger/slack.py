"""Slack's Web API as the assistant uses it: chat.postMessage, chat.postEphemeral, and the
response_url of a slash command. Bot token from SLACK_BOT_TOKEN; base URL SLACK_API_URL.

Every Web API method answers HTTP 200 with {"ok": true, ...} or {"ok": false, "error":
"channel_not_found"}; a 429 carries Retry-After. A failure raises SlackError naming Slack's
error code, which the caller logs.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from django.conf import settings

# Slack cuts a message's text at 40,000 characters; answers stay far below, but a runaway
# one must not be refused whole.
MAX_TEXT = 39_000


class SlackError(RuntimeError):
    """A Web API call failed: `code` is Slack's error code or the HTTP problem."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def configured() -> bool:
    return bool(settings.SLACK_SIGNING_SECRET and settings.SLACK_BOT_TOKEN)


def escape(text: str) -> str:
    """Text shown as written: Slack reads <...> as links and mentions (<!channel> would page
    everyone), so &, < and > are escaped as its formatting guide says."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.M)
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")


def mrkdwn(markdown: str) -> str:
    """The model's Markdown as Slack's mrkdwn: escaped first (see escape), then **bold** and
    headings as *bold*, [text](url) as <url|text>; code spans and blocks read the same."""
    text = escape(markdown)
    text = _HEADING.sub(r"*\1*", text)
    text = _BOLD.sub(r"*\1*", text)
    # Both halves are escaped already; Slack reads the entities back.
    return _MD_LINK.sub(lambda m: f"<{m[2].replace('|', '%7C')}|{m[1].replace('|', '¦')}>", text)


def link(url: str, label: str) -> str:
    return f"<{escape(url).replace('|', '%7C')}|{escape(label).replace('|', '¦')}>"


def call(method: str, payload: dict[str, Any]) -> dict[str, Any]:
    """POST one Web API method with the bot token; the parsed answer when it is ok."""
    try:
        response = httpx.post(
            f"{settings.SLACK_API_URL}/{method}",
            json=payload,
            headers={"Authorization": f"Bearer {settings.SLACK_BOT_TOKEN}"},
            timeout=settings.MESSENGER_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise SlackError(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code == 429:
        raise SlackError(f"ratelimited (retry after {response.headers.get('retry-after', '?')} s)")
    try:
        body = response.json()
    except ValueError:
        raise SlackError(f"HTTP {response.status_code}: not JSON") from None
    if not isinstance(body, dict) or not body.get("ok"):
        error = body.get("error") if isinstance(body, dict) else None
        raise SlackError(str(error or f"HTTP {response.status_code}"))
    return body


def post_message(channel: str, text: str, thread_ts: str = "") -> str:
    """Post as the bot (in the thread of `thread_ts` when given); the new message's ts."""
    payload: dict[str, Any] = {"channel": channel, "text": text[:MAX_TEXT], "unfurl_links": False}
    if thread_ts:
        payload["thread_ts"] = thread_ts
    return str(call("chat.postMessage", payload).get("ts") or "")


def post_ephemeral(channel: str, user: str, text: str, thread_ts: str = "") -> None:
    """A message only `user` sees in `channel` (a link meant for them alone)."""
    payload: dict[str, Any] = {"channel": channel, "user": user, "text": text[:MAX_TEXT]}
    if thread_ts:
        payload["thread_ts"] = thread_ts
    call("chat.postEphemeral", payload)


def response_url_allowed(url: str) -> bool:
    return any(url.startswith(prefix) for prefix in settings.SLACK_RESPONSE_URL_PREFIXES if prefix)


def respond(response_url: str, text: str, *, in_channel: bool = False) -> None:
    """Answer a slash command through its response_url (valid 30 minutes, 5 times)."""
    if not response_url_allowed(response_url):
        raise SlackError("response_url outside SLACK_RESPONSE_URL_PREFIXES")
    body = {
        "response_type": "in_channel" if in_channel else "ephemeral",
        "text": text[:MAX_TEXT],
    }
    try:
        response = httpx.post(
            response_url,
            json=body,
            timeout=settings.MESSENGER_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise SlackError(f"{type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise SlackError(f"HTTP {response.status_code}: {response.text[:200]}")
