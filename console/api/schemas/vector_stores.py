"""Vector stores, vector store files, file batches and search: requests and responses."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from console.api.schemas.base import ApiModel, Metadata, check_map_limits
from console.core.models import unix
from console.vector_stores.models import AUTO_CHUNKING, FileBatch, VectorStore, VectorStoreFile
from console.vector_stores.services import Counts, batch_status, store_status

if TYPE_CHECKING:
    from console.retrieval.search import Hit

ATTRIBUTES_MAX_PAIRS = 16
ATTRIBUTE_KEY_MAX = 64
ATTRIBUTE_VALUE_MAX = 512
BATCH_MAX_FILES = 2000


class AutoChunkingStrategy(ApiModel):
    type: Literal["auto"]


class StaticChunkingParams(ApiModel):
    max_chunk_size_tokens: int = Field(ge=100, le=4096)
    chunk_overlap_tokens: int = Field(ge=0)

    @field_validator("chunk_overlap_tokens")
    @classmethod
    def _at_most_half(cls, value: int, info: ValidationInfo) -> int:
        size = info.data.get("max_chunk_size_tokens")
        if size is not None and value > size // 2:
            raise PydanticCustomError(
                "invalid_value",
                "Invalid 'chunk_overlap_tokens': the overlap must not exceed half of max_chunk_size_tokens "
                "({half}), but got {value}.",
                {"half": size // 2, "value": value},
            )
        return value


class StaticChunkingStrategy(ApiModel):
    type: Literal["static"]
    static: StaticChunkingParams


ChunkingStrategy = Annotated[AutoChunkingStrategy | StaticChunkingStrategy, Field(discriminator="type")]


def stored_chunking(strategy: AutoChunkingStrategy | StaticChunkingStrategy | None) -> dict[str, Any]:
    """The strategy as OpenAI returned it: `auto` is reported as the static 800/400 it stands for."""
    if isinstance(strategy, StaticChunkingStrategy):
        return {"type": "static", "static": strategy.static.model_dump()}
    return copy.deepcopy(AUTO_CHUNKING)


def _check_attributes(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None:
        check_map_limits("attributes", value, ATTRIBUTES_MAX_PAIRS, ATTRIBUTE_KEY_MAX, ATTRIBUTE_VALUE_MAX)
    return value


AttributeValue = str | bool | int | float
Attributes = Annotated[dict[str, AttributeValue] | None, AfterValidator(_check_attributes)]


class ExpiresAfter(ApiModel):
    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)


class CreateVectorStoreRequest(ApiModel):
    file_ids: list[str] | None = Field(default=None, max_length=500)
    name: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=512)
    expires_after: ExpiresAfter | None = None
    chunking_strategy: ChunkingStrategy | None = None
    metadata: Metadata = None


class UpdateVectorStoreRequest(ApiModel):
    name: str | None = Field(default=None, max_length=256)
    expires_after: ExpiresAfter | None = None
    metadata: Metadata = None


class CreateVectorStoreFileRequest(ApiModel):
    file_id: str
    chunking_strategy: ChunkingStrategy | None = None
    attributes: Attributes = None


class UpdateVectorStoreFileAttributesRequest(ApiModel):
    attributes: Attributes


class CreateVectorStoreFileBatchRequest(ApiModel):
    file_ids: list[str] | None = Field(default=None, min_length=1, max_length=BATCH_MAX_FILES)
    files: list[CreateVectorStoreFileRequest] | None = Field(
        default=None, min_length=1, max_length=BATCH_MAX_FILES
    )
    chunking_strategy: ChunkingStrategy | None = None
    attributes: Attributes = None


ComparisonType = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]


class ComparisonFilter(ApiModel):
    type: ComparisonType
    key: str
    value: str | bool | int | float | list[str | int | float]


class CompoundFilter(ApiModel):
    type: Literal["and", "or"]
    filters: list[Filter]


Filter = Annotated[ComparisonFilter | CompoundFilter, Field(discriminator="type")]
CompoundFilter.model_rebuild()


class SearchRankingOptions(ApiModel):
    ranker: Literal["none", "auto", "default-2024-11-15"] = "auto"
    score_threshold: float = Field(default=0.0, ge=0, le=1)


class VectorStoreSearchRequest(ApiModel):
    query: str | Annotated[list[str], Field(min_length=1)]
    rewrite_query: bool = False
    max_num_results: int = Field(default=10, ge=1, le=50)
    filters: Filter | None = None
    ranking_options: SearchRankingOptions | None = None


# Responses


class FileCounts(ApiModel):
    in_progress: int
    completed: int
    failed: int
    cancelled: int
    total: int


class VectorStoreObject(ApiModel):
    id: str
    object: Literal["vector_store"] = "vector_store"
    created_at: int
    name: str
    description: str | None = None
    usage_bytes: int
    file_counts: FileCounts
    status: str
    expires_after: ExpiresAfter | None = None
    expires_at: int | None
    last_active_at: int | None
    metadata: dict[str, str]

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The spec types expires_after as an object, not nullable: leave it out when unset.
        data: dict[str, Any] = handler(self)
        if data.get("expires_after") is None:
            data.pop("expires_after", None)
        return data

    @classmethod
    def of(cls, store: VectorStore, counts: Counts) -> VectorStoreObject:
        return cls.model_construct(
            id=store.id,
            object="vector_store",
            created_at=store.created_at_unix,
            name=store.name,
            description=store.description,
            usage_bytes=counts.usage_bytes,
            file_counts=FileCounts(**counts.as_dict()),
            status=store_status(store, counts),
            expires_after=ExpiresAfter.model_construct(**store.expires_after)
            if store.expires_after
            else None,
            expires_at=unix(store.expires_at),
            last_active_at=unix(store.last_active_at),
            metadata=store.metadata,
        )


class LastError(ApiModel):
    code: str
    message: str


class VectorStoreFileObject(ApiModel):
    id: str
    object: Literal["vector_store.file"] = "vector_store.file"
    usage_bytes: int
    created_at: int
    vector_store_id: str
    status: str
    last_error: LastError | None
    chunking_strategy: dict[str, Any]
    attributes: dict[str, Any] | None

    @classmethod
    def of(cls, row: VectorStoreFile) -> VectorStoreFileObject:
        return cls.model_construct(
            id=row.file_id,
            object="vector_store.file",
            usage_bytes=row.usage_bytes,
            created_at=unix(row.created_at),
            vector_store_id=row.store_id,
            status=row.status,
            last_error=LastError.model_construct(**row.last_error) if row.last_error else None,
            chunking_strategy=row.chunking_strategy,
            attributes=row.attributes,
        )


class VectorStoreFileBatchObject(ApiModel):
    id: str
    object: Literal["vector_store.files_batch"] = "vector_store.files_batch"
    created_at: int
    vector_store_id: str
    status: str
    file_counts: FileCounts

    @classmethod
    def of(cls, batch: FileBatch, counts: Counts) -> VectorStoreFileBatchObject:
        return cls.model_construct(
            id=batch.id,
            object="vector_store.files_batch",
            created_at=batch.created_at_unix,
            vector_store_id=batch.store_id,
            status=batch_status(batch, counts),
            file_counts=FileCounts(**counts.as_dict()),
        )


class TextContent(ApiModel):
    type: Literal["text"] = "text"
    text: str


class FileContentPage(ApiModel):
    object: Literal["vector_store.file_content.page"] = "vector_store.file_content.page"
    data: list[TextContent]
    has_more: bool = False
    next_page: str | None = None


class SearchResult(ApiModel):
    file_id: str
    filename: str
    score: float
    attributes: dict[str, Any] | None
    content: list[TextContent]

    @classmethod
    def of(cls, hit: Hit) -> SearchResult:
        return cls.model_construct(
            file_id=hit.file_id,
            filename=hit.filename,
            # Scores are similarities in [0, 1]; clamp what a backend rounds past the bounds.
            score=min(max(float(hit.score), 0.0), 1.0),
            attributes=hit.attributes or {},
            content=[TextContent.model_construct(type="text", text=hit.text)],
        )


class SearchResultsPage(ApiModel):
    object: Literal["vector_store.search_results.page"] = "vector_store.search_results.page"
    search_query: list[str]
    data: list[SearchResult]
    has_more: bool = False
    next_page: str | None = None
