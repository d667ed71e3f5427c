from __future__ import annotations

from typing import Any, Literal

from pydantic import SerializerFunctionWrapHandler, model_serializer

from console.api.schemas.base import ApiModel
from console.core.models import unix
from console.files.models import File


class FileObject(ApiModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    expires_at: int | None = None
    filename: str
    purpose: str
    status: str
    status_details: str | None = None

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The spec types these as integer/string, not nullable: leave them out when unset.
        data: dict[str, Any] = handler(self)
        for key in ("expires_at", "status_details"):
            if data.get(key) is None:
                data.pop(key, None)
        return data

    @classmethod
    def of(cls, f: File) -> FileObject:
        return cls.model_construct(
            id=f.id,
            object="file",
            bytes=f.bytes,
            created_at=f.created_at_unix,
            expires_at=unix(f.expires_at),
            filename=f.filename,
            purpose=f.purpose,
            status=f.status,
        )
