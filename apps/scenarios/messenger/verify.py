"""Is this request from Slack or Mattermost? Checked before anything else is read.

Slack signs every request (slash commands and the Events API) with the app's signing secret:
X-Slack-Signature is "v0=" + hex HMAC-SHA256 of "v0:{X-Slack-Request-Timestamp}:{raw body}".
A request whose timestamp is more than five minutes from now is refused, so a recorded
request cannot be replayed later. Mattermost sends the token of the slash command or the
outgoing webhook inside the request. Both comparisons take constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import time

# Slack's documented replay window.
SLACK_MAX_AGE = 5 * 60
MAX_HEADER = 200  # longer signature or timestamp headers are not Slack's


def slack(
    secret: str, timestamp: str, body: bytes, signature: str, now: float | None = None
) -> str:
    """ "" when the request is signed by Slack with `secret`, else why not: "unsigned",
    "stale" (timestamp missing, malformed or older than five minutes) or "forged"."""
    if not secret or not signature or not timestamp:
        return "unsigned"
    if len(signature) > MAX_HEADER or len(timestamp) > MAX_HEADER:
        return "forged"
    try:
        sent = int(timestamp)
    except ValueError:
        return "stale"
    if abs((time.time() if now is None else now) - sent) > SLACK_MAX_AGE:
        return "stale"
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "forged"
    return ""


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Slack-Signature Slack sends for `body` at `timestamp` (for tools and tests)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def token(expected: str, given: str) -> bool:
    """A Mattermost slash-command or outgoing-webhook token matches the configured one."""
    if not expected or not given or len(given) > MAX_HEADER:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
