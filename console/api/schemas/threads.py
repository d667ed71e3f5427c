from __future__ import annotations

from pydantic import Field

from console.api.schemas.base import ApiModel, Metadata
from console.api.schemas.messages import CreateMessageRequest
from console.api.schemas.tools import CreateToolResources, ToolResources


class CreateThreadRequest(ApiModel):
    messages: list[CreateMessageRequest] = Field(default_factory=list, max_length=32)
    tool_resources: CreateToolResources | None = None
    metadata: Metadata = None


class ModifyThreadRequest(ApiModel):
    tool_resources: ToolResources | None = None
    metadata: Metadata = None
