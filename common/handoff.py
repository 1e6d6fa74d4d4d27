"""Signed hand-overs of plain data from one app's page to another app's view.

Apps that may not import each other (nothing imports chat or scenarios) still hand work to
each other the way pages do: a page of one app posts a form to a view of the other. When the
data must be trusted by the receiver (a scenario run's explanation becoming an assistant turn
in chat), the sender signs it here for the one user who may post it, and the receiver checks
the signature, the user and the age. The receiver documents the `kind` and the shape of the
data it accepts; neither side imports the other.
"""

from __future__ import annotations

from typing import Any

from django.core import signing

MAX_AGE_SECONDS = 7 * 24 * 3600


class BadHandoff(ValueError):
    """Tampered, expired, of another kind, or signed for another user."""


def sign(kind: str, user_id: int, data: dict[str, Any]) -> str:
    return signing.dumps(
        {"u": int(user_id), "d": data}, salt=f"opsdesk.handoff.{kind}", compress=True
    )


def unsign(kind: str, user_id: int, token: str, max_age: int = MAX_AGE_SECONDS) -> dict[str, Any]:
    try:
        payload = signing.loads(token, salt=f"opsdesk.handoff.{kind}", max_age=max_age)
    except signing.BadSignature as exc:  # SignatureExpired is a BadSignature too
        raise BadHandoff(str(exc)) from None
    if not isinstance(payload, dict) or payload.get("u") != int(user_id):
        raise BadHandoff("signed for another user")
    data = payload.get("d")
    if not isinstance(data, dict):
        raise BadHandoff("no data")
    return data
