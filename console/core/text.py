"""Text the server stores and returns on every database.

PostgreSQL refuses U+0000 in text and jsonb (SQLite keeps it), so text that comes from outside and is
stored (model output, tool-call arguments, code_interpreter logs) has each U+0000 replaced by U+FFFD,
the replacement character, on both databases alike: what a stream shows is what is stored and read
back. Every other control character is kept as it is (docs/runs.md).
"""

from __future__ import annotations

NUL = "\x00"
REPLACEMENT = "\ufffd"


def storable(text: str) -> str:
    return text.replace(NUL, REPLACEMENT) if NUL in text else text


def storable_or_none(text: str | None) -> str | None:
    return None if text is None else storable(text)
