"""Encryption at rest for upstream keys: MultiFernet over SECRET_KEY and SECRET_KEY_FALLBACKS.

New tokens are made with the key derived from SECRET_KEY; tokens made under a key that has since
moved to SECRET_KEY_FALLBACKS still decrypt, so rotating SECRET_KEY the way Django documents it
keeps every stored key readable. `rotate()` re-encrypts a token under the current key.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet_for(secret: str) -> Fernet:
    # A domain-separated derivation, so the Fernet key is not SECRET_KEY's plain hash used elsewhere.
    digest = hashlib.sha256(b"console.web.upstream-key:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _fernet() -> MultiFernet:
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet_for(secret) for secret in secrets])


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str | None:
    """None when the token cannot be read (made under a secret no longer in SECRET_KEY or its fallbacks)."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def rotate(token: str) -> str | None:
    """The token re-encrypted under the current SECRET_KEY; None when it cannot be read."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def decrypt_current(token: str) -> str | None:
    """Only under the current SECRET_KEY (None for a token that still needs rotate())."""
    try:
        return _fernet_for(settings.SECRET_KEY).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
