"""Mattermost's REST API v4 as the assistant uses it, with the bot account's token
(MATTERMOST_BOT_TOKEN) on MATTERMOST_URL: POST /api/v4/posts (root_id makes it a reply in
the thread), GET /api/v4/posts/{id}, GET /api/v4/users/me and POST /api/v4/channels/direct
(a direct message for the one-time link). Errors are {"id", "message", "status_code"}; a
failure raises MattermostError with that message.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from django.conf import settings

# Mattermost's default MaxPostSize is 16,383 characters.
MAX_MESSAGE = 16_000
_GROUP_MENTION = re.compile(r"@(channel|all|here)\b", re.IGNORECASE)


class MattermostError(RuntimeError):
    pass


def configured() -> bool:
    return bool(
        settings.MATTERMOST_URL
        and settings.MATTERMOST_BOT_TOKEN
        and (settings.MATTERMOST_COMMAND_TOKEN or settings.MATTERMOST_WEBHOOK_TOKEN)
    )


def quiet(text: str) -> str:
    """Text that pages nobody: @channel, @all and @here in an answer are shown, not sent
    (a zero-width space after the @)."""
    return _GROUP_MENTION.sub("@\u200b\\1", text)


def link(url: str, label: str) -> str:
    label = label.replace("[", "(").replace("]", ")")
    return f"[{label}]({url.replace(')', '%29').replace(' ', '%20')})"


def call(method: str, path: str, payload: Any = None) -> Any:
    try:
        response = httpx.request(
            method,
            f"{settings.MATTERMOST_URL}/api/v4{path}",
            json=payload,
            headers={"Authorization": f"Bearer {settings.MATTERMOST_BOT_TOKEN}"},
            timeout=settings.MESSENGER_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise MattermostError(f"{type(exc).__name__}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if not response.is_success:
        message = body.get("message") if isinstance(body, dict) else response.text[:200]
        raise MattermostError(f"HTTP {response.status_code}: {message}")
    return body


def create_post(channel_id: str, message: str, root_id: str = "") -> str:
    """Post as the bot, in the thread of `root_id` when given; the new post's id."""
    payload: dict[str, Any] = {
        "channel_id": channel_id,
        "message": quiet(message)[:MAX_MESSAGE],
        # An answer quoting "@channel" must not highlight it for everyone either.
        "props": {"disable_group_highlight": True},
    }
    if root_id:
        payload["root_id"] = root_id
    body = call("POST", "/posts", payload)
    return str(body.get("id") or "") if isinstance(body, dict) else ""


def thread_root(post_id: str) -> str:
    """The root of the thread `post_id` is in (itself when it is a root post)."""
    body = call("GET", f"/posts/{post_id}")
    root = body.get("root_id") if isinstance(body, dict) else ""
    return str(root or post_id)


def direct_message(user_id: str, message: str) -> str:
    """A direct message from the bot to `user_id` (for what only they may see)."""
    me = call("GET", "/users/me")
    bot_id = str(me.get("id") or "") if isinstance(me, dict) else ""
    channel = call("POST", "/channels/direct", [bot_id, user_id])
    channel_id = str(channel.get("id") or "") if isinstance(channel, dict) else ""
    if not bot_id or not channel_id:
        raise MattermostError("no direct channel with the user")
    return create_post(channel_id, message)


def is_direct(channel_id: str) -> bool:
    """Is this a direct message channel (type "D")? Unknown counts as shared."""
    try:
        body = call("GET", f"/channels/{channel_id}")
    except MattermostError:
        return False
    return isinstance(body, dict) and body.get("type") == "D"
