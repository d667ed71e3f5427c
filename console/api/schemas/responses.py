"""Request schemas of the Responses and Conversations APIs (docs/openapi/responses.yaml)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from console.api.schemas.base import (
    ApiModel,
    FunctionName,
    JsonSchema,
    Metadata,
    ReasoningEffort,
    Temperature,
    TopP,
)

MAX_ITEMS = 20
Detail = Literal["low", "high", "auto", "original"]
ItemStatus = Literal["in_progress", "completed", "incomplete"]


class InputText(ApiModel):
    type: Literal["input_text"]
    text: str


class OutputText(ApiModel):
    type: Literal["output_text"]
    text: str
    annotations: list[dict[str, Any]] | None = None
    logprobs: list[dict[str, Any]] | None = None


class Refusal(ApiModel):
    type: Literal["refusal"]
    refusal: str


class InputImage(ApiModel):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Detail | None = None


class InputFile(ApiModel):
    type: Literal["input_file"]
    file_id: str | None = None
    filename: str | None = None
    file_data: str | None = None
    file_url: str | None = None


ContentPart = Annotated[
    InputText | OutputText | Refusal | InputImage | InputFile, Field(discriminator="type")
]


class MessageItem(ApiModel):
    type: Literal["message"] | None = None
    id: str | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]
    status: ItemStatus | None = None
    phase: str | None = None


class FunctionCallItem(ApiModel):
    type: Literal["function_call"]
    id: str | None = None
    call_id: str = Field(min_length=1, max_length=64)
    name: str
    arguments: str
    status: ItemStatus | None = None


class FunctionCallOutputItem(ApiModel):
    type: Literal["function_call_output"]
    id: str | None = None
    call_id: str = Field(min_length=1, max_length=64)
    output: str | list[InputText | InputImage | InputFile]
    status: ItemStatus | None = None


class ItemReference(ApiModel):
    type: Literal["item_reference"]
    id: str


def _item_type(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("type") or "message")
    return str(getattr(value, "type", None) or "message")


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[ItemReference, Tag("item_reference")],
    Discriminator(_item_type),
]
# Items a conversation stores (item references point at stored items; they are not items).
StoredItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")],
    Discriminator(_item_type),
]


class FunctionTool(ApiModel):
    type: Literal["function"]
    name: FunctionName
    description: str | None = None
    parameters: JsonSchema = None
    strict: bool | None = None


class NamedFunctionChoice(ApiModel):
    type: Literal["function"]
    name: str


ToolChoice = Literal["none", "auto", "required"] | NamedFunctionChoice


class TextFormatText(ApiModel):
    type: Literal["text"]


class TextFormatJsonObject(ApiModel):
    type: Literal["json_object"]


class TextFormatJsonSchema(ApiModel):
    type: Literal["json_schema"]
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    schema_: JsonSchema = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


TextFormat = Annotated[
    TextFormatText | TextFormatJsonObject | TextFormatJsonSchema, Field(discriminator="type")
]


class TextOptions(ApiModel):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningOptions(ApiModel):
    effort: ReasoningEffort | Literal["xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class ConversationRef(ApiModel):
    id: str


class StreamOptions(ApiModel):
    include_obfuscation: bool | None = None


class ResponseOptions(ApiModel):
    """What create-response and input-token counting share."""

    model: str | None = Field(default=None, max_length=256)
    input: str | list[InputItem] | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    conversation: str | ConversationRef | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextOptions | None = None
    reasoning: ReasoningOptions | None = None
    truncation: Literal["auto", "disabled"] | None = None


class CreateResponseRequest(ResponseOptions):
    model: str = Field(max_length=256)
    include: list[str] | None = None
    store: bool | None = None
    background: bool | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_output_tokens: Annotated[int, Field(ge=16)] | None = None
    max_tool_calls: Annotated[int, Field(ge=1)] | None = None
    temperature: Temperature = None
    top_p: TopP = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    metadata: Metadata = None
    user: str | None = None
    safety_identifier: Annotated[str, Field(max_length=64)] | None = None
    prompt_cache_key: str | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None


class CreateConversationRequest(ApiModel):
    items: Annotated[list[StoredItem], Field(max_length=MAX_ITEMS)] | None = None
    metadata: Metadata = None


class UpdateConversationRequest(ApiModel):
    metadata: Metadata


class CreateItemsRequest(ApiModel):
    items: Annotated[list[StoredItem], Field(min_length=1, max_length=MAX_ITEMS)]
