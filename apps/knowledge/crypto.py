"""Source secrets at rest: a Fernet-encrypted JSON object, never shown again once saved."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretsUnreadable(Exception):
    """The stored secrets cannot be decrypted: the key changed since they were saved."""


def _fernet() -> Fernet:
    secret = settings.KNOWLEDGE_SECRET_KEY or settings.SECRET_KEY
    # Any string may serve as the key, so derive Fernet's 32 bytes; the label keeps this key
    # distinct from every other use of SECRET_KEY.
    digest = hashlib.sha256(b"opsdesk.knowledge.source-secrets:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(values: dict[str, str]) -> str:
    values = {k: v for k, v in values.items() if v}
    if not values:
        return ""
    return _fernet().encrypt(json.dumps(values).encode()).decode()


def decrypt(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        return dict(json.loads(_fernet().decrypt(token.encode())))
    except InvalidToken:
        raise SecretsUnreadable(
            "the source's secrets cannot be decrypted (KNOWLEDGE_SECRET_KEY or SECRET_KEY "
            "changed); enter them again"
        ) from None
