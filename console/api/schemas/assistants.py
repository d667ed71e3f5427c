from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from console.api.schemas.base import ApiModel, Metadata, ReasoningEffort, Temperature, TopP
from console.api.schemas.tools import CreateToolResources, ResponseFormat, ToolResources, Tools
from console.assistants.models import Assistant


class AssistantFields(ApiModel):
    name: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=512)
    instructions: str | None = Field(default=None, max_length=256000)
    reasoning_effort: ReasoningEffort | None = None
    tools: Tools = Field(default_factory=list)
    tool_resources: ToolResources | None = None
    metadata: Metadata = None
    temperature: Temperature = None
    top_p: TopP = None
    response_format: ResponseFormat | None = None


class CreateAssistantRequest(AssistantFields):
    model: str = Field(min_length=1, max_length=256)
    tool_resources: CreateToolResources | None = None


class ModifyAssistantRequest(AssistantFields):
    model: str | None = Field(default=None, min_length=1, max_length=256)


class AssistantObject(ApiModel):
    id: str
    object: Literal["assistant"] = "assistant"
    created_at: int
    name: str | None
    description: str | None
    model: str
    instructions: str | None
    tools: list[dict[str, Any]]
    tool_resources: dict[str, Any]
    metadata: dict[str, str]
    temperature: float | None
    top_p: float | None
    response_format: Any
    reasoning_effort: str | None = None

    @classmethod
    def of(cls, a: Assistant) -> AssistantObject:
        return cls.model_construct(
            id=a.id,
            object="assistant",
            created_at=a.created_at_unix,
            name=a.name,
            description=a.description,
            model=a.model,
            instructions=a.instructions,
            tools=a.tools,
            tool_resources=a.tool_resources,
            metadata=a.metadata,
            temperature=a.temperature,
            top_p=a.top_p,
            response_format=a.response_format,
            reasoning_effort=a.reasoning_effort,
        )
