from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from console.api.schemas.base import ApiModel, Metadata, ReasoningEffort, Temperature, TopP
from console.api.schemas.messages import CreateMessageRequest
from console.api.schemas.threads import CreateThreadRequest
from console.api.schemas.tools import ResponseFormat, Tool, ToolResources
from console.core.models import unix
from console.runs.models import Run, RunStep

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


class RunObject(ApiModel):
    id: str
    object: Literal["thread.run"] = "thread.run"
    created_at: int
    thread_id: str
    assistant_id: str
    status: str
    required_action: dict[str, Any] | None
    last_error: dict[str, Any] | None
    expires_at: int | None
    started_at: int | None
    cancelled_at: int | None
    failed_at: int | None
    completed_at: int | None
    incomplete_details: dict[str, Any] | None
    model: str
    instructions: str
    tools: list[dict[str, Any]]
    metadata: dict[str, str]
    usage: dict[str, int] | None
    temperature: float | None
    top_p: float | None
    max_prompt_tokens: int | None
    max_completion_tokens: int | None
    truncation_strategy: dict[str, Any]
    tool_choice: Any
    parallel_tool_calls: bool
    response_format: Any
    reasoning_effort: str | None = None

    @classmethod
    def of(cls, r: Run) -> RunObject:
        return cls.model_construct(
            id=r.id,
            object="thread.run",
            created_at=r.created_at_unix,
            thread_id=r.thread_id,
            assistant_id=r.assistant_id,
            status=r.status,
            required_action=r.required_action,
            last_error=r.last_error,
            expires_at=None if r.is_terminal else unix(r.expires_at),
            started_at=unix(r.started_at),
            cancelled_at=unix(r.cancelled_at),
            failed_at=unix(r.failed_at),
            completed_at=unix(r.completed_at),
            incomplete_details=r.incomplete_details,
            model=r.model,
            instructions=r.instructions,
            tools=r.tools,
            metadata=r.metadata,
            usage=r.usage,
            temperature=r.temperature,
            top_p=r.top_p,
            max_prompt_tokens=r.max_prompt_tokens,
            max_completion_tokens=r.max_completion_tokens,
            truncation_strategy=r.truncation_strategy,
            tool_choice=r.tool_choice,
            parallel_tool_calls=r.parallel_tool_calls,
            response_format=r.response_format,
            reasoning_effort=r.reasoning_effort,
        )


class RunStepObject(ApiModel):
    id: str
    object: Literal["thread.run.step"] = "thread.run.step"
    created_at: int
    assistant_id: str
    thread_id: str
    run_id: str
    type: str
    status: str
    step_details: dict[str, Any]
    last_error: dict[str, Any] | None
    expired_at: int | None
    cancelled_at: int | None
    failed_at: int | None
    completed_at: int | None
    metadata: dict[str, str]
    usage: dict[str, int] | None

    @classmethod
    def of(cls, s: RunStep, include_content: bool = False) -> RunStepObject:
        details = s.step_details
        if not include_content and s.type == "tool_calls":
            details = _without_file_search_content(details)
        return cls.model_construct(
            id=s.id,
            object="thread.run.step",
            created_at=s.created_at_unix,
            assistant_id=s.assistant_id,
            thread_id=s.thread_id,
            run_id=s.run_id,
            type=s.type,
            status=s.status,
            step_details=details,
            last_error=s.last_error,
            expired_at=unix(s.expired_at),
            cancelled_at=unix(s.cancelled_at),
            failed_at=unix(s.failed_at),
            completed_at=unix(s.completed_at),
            metadata=s.metadata,
            usage=s.usage,
        )


def _without_file_search_content(details: dict[str, Any]) -> dict[str, Any]:
    """File search results carry their content only when include[] asks for it."""
    calls = []
    for call in details.get("tool_calls", []):
        results = (call.get("file_search") or {}).get("results")
        if results:
            stripped = [{k: v for k, v in result.items() if k != "content"} for result in results]
            call = {**call, "file_search": {**call["file_search"], "results": stripped}}
        calls.append(call)
    return {**details, "tool_calls": calls}
