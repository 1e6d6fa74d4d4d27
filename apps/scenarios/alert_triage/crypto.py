"""Chat webhook URLs at rest: Fernet-encrypted (an incoming-webhook URL is its own secret)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    secret = settings.ALERT_SECRET_KEY or settings.SECRET_KEY
    # Any string may serve as the key, so derive Fernet's 32 bytes; the label keeps this key
    # distinct from every other use of SECRET_KEY.
    digest = hashlib.sha256(b"opsdesk.alert-triage.webhook-url:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str | None:
    """The URL, or None when it cannot be decrypted (the key changed since it was saved)."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return None
