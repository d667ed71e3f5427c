from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from console.api.schemas.base import ApiModel, Metadata, ReasoningEffort, Temperature, TopP
from console.api.schemas.messages import CreateMessageRequest
from console.api.schemas.threads import CreateThreadRequest
from console.api.schemas.tools import ResponseFormat, Tool, ToolResources

FILE_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"


class TruncationStrategy(ApiModel):
    type: Literal["auto", "last_messages"]
    last_messages: Annotated[int, Field(ge=1)] | None = None


class NamedFunction(ApiModel):
    name: str


class NamedToolChoice(ApiModel):
    type: Literal["function", "code_interpreter", "file_search"]
    function: NamedFunction | None = None


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice
TokenLimit = Annotated[int, Field(ge=256)] | None


class RunOptions(ApiModel):
    """What create-run and create-thread-and-run share."""

    assistant_id: str
    model: str | None = Field(default=None, max_length=256)
    instructions: str | None = Field(default=None, max_length=256000)
    reasoning_effort: ReasoningEffort | None = None
    tools: Annotated[list[Tool], Field(max_length=20)] | None = None
    metadata: Metadata = None
    temperature: Temperature = None
    top_p: TopP = None
    stream: bool | None = None
    max_prompt_tokens: TokenLimit = None
    max_completion_tokens: TokenLimit = None
    truncation_strategy: TruncationStrategy | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None


class CreateRunRequest(RunOptions):
    additional_instructions: str | None = Field(default=None, max_length=256000)
    additional_messages: list[CreateMessageRequest] | None = None


class CreateThreadAndRunRequest(RunOptions):
    thread: CreateThreadRequest | None = None
    tool_resources: ToolResources | None = None


class ToolOutput(ApiModel):
    tool_call_id: str
    output: str = Field(max_length=512_000)


class SubmitToolOutputsRequest(ApiModel):
    tool_outputs: list[ToolOutput]
    stream: bool | None = None


class ModifyRunRequest(ApiModel):
    metadata: Metadata = None
