"""Tools, tool resources and response formats, shared by assistants, threads and runs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from console.api.schemas.base import ApiModel, FunctionName, JsonSchema, Metadata
from console.api.schemas.vector_stores import ChunkingStrategy, stored_chunking


class CodeInterpreterTool(ApiModel):
    type: Literal["code_interpreter"]


class RankingOptions(ApiModel):
    ranker: Literal["auto", "default_2024_08_21"] = "auto"
    score_threshold: float = Field(ge=0, le=1)


class FileSearchSettings(ApiModel):
    max_num_results: int | None = Field(default=None, ge=1, le=50)
    ranking_options: RankingOptions | None = None


class FileSearchTool(ApiModel):
    type: Literal["file_search"]
    file_search: FileSearchSettings | None = None


class FunctionDefinition(ApiModel):
    name: FunctionName
    description: str | None = Field(default=None, max_length=1024)
    parameters: JsonSchema = None
    strict: bool | None = None


class FunctionTool(ApiModel):
    type: Literal["function"]
    function: FunctionDefinition


Tool = Annotated[CodeInterpreterTool | FileSearchTool | FunctionTool, Field(discriminator="type")]
Tools = Annotated[list[Tool], Field(max_length=128)]


class CodeInterpreterResources(ApiModel):
    file_ids: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)


class FileSearchResources(ApiModel):
    vector_store_ids: Annotated[list[str], Field(max_length=1)] = Field(default_factory=list)


class ToolResources(ApiModel):
    code_interpreter: CodeInterpreterResources | None = None
    file_search: FileSearchResources | None = None


class VectorStoreHelper(ApiModel):
    """tool_resources.file_search.vector_stores[]: a store to create along with the assistant or thread."""

    file_ids: Annotated[list[str], Field(max_length=10_000)] = Field(default_factory=list)
    chunking_strategy: ChunkingStrategy | None = None
    metadata: Metadata = None


class CreateFileSearchResources(FileSearchResources):
    vector_stores: Annotated[list[VectorStoreHelper], Field(max_length=1)] | None = None


class CreateToolResources(ToolResources):
    """Only the create requests of assistants and threads accept the vector_stores helper."""

    file_search: CreateFileSearchResources | None = None


class ResponseFormatText(ApiModel):
    type: Literal["text"]


class ResponseFormatJsonObject(ApiModel):
    type: Literal["json_object"]


class JsonSchemaFormat(ApiModel):
    name: FunctionName
    description: str | None = None
    schema_: JsonSchema = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormatJsonSchema(ApiModel):
    type: Literal["json_schema"]
    json_schema: JsonSchemaFormat


ResponseFormat = (
    Literal["auto"]
    | Annotated[
        ResponseFormatText | ResponseFormatJsonObject | ResponseFormatJsonSchema, Field(discriminator="type")
    ]
)


def normalize_tool(tool: CodeInterpreterTool | FileSearchTool | FunctionTool) -> dict[str, Any]:
    """The stored and returned shape, with OpenAI's defaults filled in."""
    if isinstance(tool, FunctionTool):
        fn: dict[str, Any] = {"name": tool.function.name}
        if tool.function.description is not None:
            fn["description"] = tool.function.description
        fn["parameters"] = tool.function.parameters if tool.function.parameters is not None else {}
        fn["strict"] = bool(tool.function.strict)
        return {"type": "function", "function": fn}
    if isinstance(tool, FileSearchTool):
        settings = tool.file_search or FileSearchSettings()
        ranking = settings.ranking_options or RankingOptions(score_threshold=0.0)
        body: dict[str, Any] = {}
        if settings.max_num_results is not None:
            body["max_num_results"] = settings.max_num_results
        body["ranking_options"] = {
            "ranker": "default_2024_08_21" if ranking.ranker == "auto" else ranking.ranker,
            "score_threshold": ranking.score_threshold,
        }
        return {"type": "file_search", "file_search": body}
    return {"type": "code_interpreter"}


def normalize_tool_resources(resources: ToolResources | None) -> dict[str, Any]:
    if resources is None:
        return {}
    out: dict[str, Any] = {}
    if resources.code_interpreter is not None:
        out["code_interpreter"] = {"file_ids": list(resources.code_interpreter.file_ids)}
    if resources.file_search is not None:
        file_search: dict[str, Any] = {"vector_store_ids": list(resources.file_search.vector_store_ids)}
        helpers = getattr(resources.file_search, "vector_stores", None)
        if helpers:
            # Left for the services to turn into stores (console.vector_stores.services.resolve_tool_resources).
            file_search["vector_stores"] = [
                {
                    "file_ids": list(helper.file_ids),
                    "chunking_strategy": stored_chunking(helper.chunking_strategy),
                    "metadata": helper.metadata or {},
                }
                for helper in helpers
            ]
        out["file_search"] = file_search
    return out


def normalize_response_format(value: Any) -> Any:
    if value is None or value == "auto":
        return "auto"
    return value.model_dump(by_alias=True, exclude_none=True)
