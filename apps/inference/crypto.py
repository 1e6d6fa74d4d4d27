"""Backend API keys at rest: Fernet-encrypted, never shown again once saved."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    secret = settings.LLM_SECRET_KEY or settings.SECRET_KEY
    # A dedicated key may be any string, so derive the 32 bytes Fernet needs; the label keeps
    # this key distinct from every other use of SECRET_KEY.
    digest = hashlib.sha256(b"opsdesk.inference.api-key:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode() if plain else ""


def decrypt(token: str) -> str | None:
    """The plain key, "" when none is set, None when it cannot be decrypted (key changed)."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return None
