"""Domain errors. Services raise these; the HTTP edges turn them into responses."""

from __future__ import annotations

import errno


class DomainError(Exception):
    """A request that cannot be carried out as asked (HTTP 400 on the API)."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class NotFound(DomainError):
    """The object does not exist, or belongs to another project: both look the same."""

    def __init__(self, kind: str, object_id: str) -> None:
        super().__init__(f"No {kind} found with id '{object_id}'.")
        self.kind = kind
        self.object_id = object_id


class Unavailable(Exception):
    """A dependency the request needs (the queue) is down; the API answers 503 and keeps nothing."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StorageFull(Exception):
    """The disk (or quota) where file bytes go is full: the API answers 507 and keeps nothing half-written."""

    MESSAGE = "The server's file storage is full, so the file could not be stored. Please retry later."

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)
        self.message = message


def is_storage_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
