from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from console.api.schemas.base import ApiModel, Metadata
from console.api.schemas.messages import CreateMessageRequest
from console.api.schemas.tools import CreateToolResources, ToolResources
from console.threads.models import Thread


class CreateThreadRequest(ApiModel):
    messages: list[CreateMessageRequest] = Field(default_factory=list, max_length=32)
    tool_resources: CreateToolResources | None = None
    metadata: Metadata = None


class ModifyThreadRequest(ApiModel):
    tool_resources: ToolResources | None = None
    metadata: Metadata = None


class ThreadObject(ApiModel):
    id: str
    object: Literal["thread"] = "thread"
    created_at: int
    tool_resources: dict[str, Any]
    metadata: dict[str, str]

    @classmethod
    def of(cls, t: Thread) -> ThreadObject:
        return cls.model_construct(
            id=t.id,
            object="thread",
            created_at=t.created_at_unix,
            tool_resources=t.tool_resources,
            metadata=t.metadata,
        )
