"""Object ids in OpenAI's shape: a type prefix and a random, URL-safe tail."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
TAIL_LENGTH = 24


def new_id(prefix: str) -> str:
    """`asst_` + 24 random alphanumerics (~143 bits)."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(TAIL_LENGTH))
