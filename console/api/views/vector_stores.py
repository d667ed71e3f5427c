from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse

from console.api.endpoint import ApiRequest, api_view
from console.api.errors import invalid_request
from console.api.jsonresp import json_response
from console.api.pagination import page_from_query, page_response, paginate
from console.api.schemas.base import DeletedObject
from console.api.schemas.vector_stores import (
    CreateVectorStoreFileBatchRequest,
    CreateVectorStoreFileRequest,
    CreateVectorStoreRequest,
    FileContentPage,
    SearchResult,
    SearchResultsPage,
    TextContent,
    UpdateVectorStoreFileAttributesRequest,
    UpdateVectorStoreRequest,
    VectorStoreFileBatchObject,
    VectorStoreFileObject,
    VectorStoreObject,
    VectorStoreSearchRequest,
    stored_chunking,
)
from console.api.validation import flag_param, parse_body, quote_choices
from console.cleanup import services as cleanup
from console.vector_stores import services
from console.vector_stores.models import FILE_STATUSES, FileBatch, VectorStore, VectorStoreFile

# The SDK's poll helpers wait this long between polls when the server says so.
POLL_AFTER_MS = "500"


def _store_response(store: VectorStore) -> HttpResponse:
    counts = services.store_counts([store.id])[store.id]
    return json_response(VectorStoreObject.of(store, counts).model_dump(mode="json"))


def _file_response(row: VectorStoreFile) -> HttpResponse:
    response = json_response(VectorStoreFileObject.of(row).model_dump(mode="json"))
    if row.status == "in_progress":
        response["openai-poll-after-ms"] = POLL_AFTER_MS
    return response


def _batch_response(batch: FileBatch) -> HttpResponse:
    counts = services.batch_counts([batch.id])[batch.id]
    response = json_response(VectorStoreFileBatchObject.of(batch, counts).model_dump(mode="json"))
    if counts.in_progress:
        response["openai-poll-after-ms"] = POLL_AFTER_MS
    return response


def _status_filter(request: ApiRequest) -> str | None:
    status = request.GET.get("filter") or None
    if status is not None and status not in FILE_STATUSES:
        raise invalid_request(
            f"Invalid value: '{status}'. Supported values are: {quote_choices(list(FILE_STATUSES))}.",
            param="filter",
            code="invalid_value",
        )
    return status


def _file_list(request: ApiRequest, rows: QuerySet[VectorStoreFile]) -> HttpResponse:
    found, has_more = paginate(rows, page_from_query(request.GET), key="file_id")
    return page_response([VectorStoreFileObject.of(row).model_dump(mode="json") for row in found], has_more)


def _new_file(body: CreateVectorStoreFileRequest) -> services.NewFile:
    return services.NewFile(
        file_id=body.file_id,
        chunking_strategy=stored_chunking(body.chunking_strategy),
        attributes=body.attributes or {},
    )


@api_view("GET", "POST")
def vector_stores(request: ApiRequest) -> HttpResponse:
    if request.method == "GET":
        queryset = services.list_stores(request.project)
        if flag_param(request, "unused"):
            # An extension: only stores no assistant or thread uses (docs/api.md).
            queryset = queryset.filter(pk__in=cleanup.unused_vector_stores(request.project).values("pk"))
        stores, has_more = paginate(queryset, page_from_query(request.GET))
        counts = services.store_counts([s.id for s in stores])
        return page_response(
            [VectorStoreObject.of(s, counts[s.id]).model_dump(mode="json") for s in stores], has_more
        )
    body, _ = parse_body(request, CreateVectorStoreRequest)
    strategy = stored_chunking(body.chunking_strategy)
    store = services.create_store(
        request.project,
        name=body.name,
        description=body.description,
        metadata=body.metadata,
        expires_after=body.expires_after.model_dump() if body.expires_after else None,
        files=[services.NewFile(file_id, strategy) for file_id in body.file_ids or []],
    )
    return _store_response(store)


@api_view("GET", "POST", "DELETE")
def vector_store(request: ApiRequest, vector_store_id: str) -> HttpResponse:
    if request.method == "GET":
        return _store_response(services.get_store(request.project, vector_store_id))
    if request.method == "DELETE":
        services.delete_store(request.project, vector_store_id)
        return json_response(
            DeletedObject(id=vector_store_id, object="vector_store.deleted", deleted=True).model_dump()
        )
    body, sent = parse_body(request, UpdateVectorStoreRequest)
    changes: dict[str, Any] = {}
    if "name" in sent:
        changes["name"] = body.name
    if "metadata" in sent:
        changes["metadata"] = body.metadata
    if "expires_after" in sent:
        changes["expires_after"] = body.expires_after.model_dump() if body.expires_after else None
    return _store_response(services.update_store(request.project, vector_store_id, changes))


@api_view("GET", "POST")
def files(request: ApiRequest, vector_store_id: str) -> HttpResponse:
    if request.method == "GET":
        status = _status_filter(request)
        return _file_list(request, services.list_files(request.project, vector_store_id, status))
    body, _ = parse_body(request, CreateVectorStoreFileRequest)
    return _file_response(services.add_file(request.project, vector_store_id, _new_file(body)))


@api_view("GET", "POST", "DELETE")
def file(request: ApiRequest, vector_store_id: str, file_id: str) -> HttpResponse:
    if request.method == "GET":
        return _file_response(services.get_file(request.project, vector_store_id, file_id))
    if request.method == "DELETE":
        services.remove_file(request.project, vector_store_id, file_id)
        return json_response(
            DeletedObject(id=file_id, object="vector_store.file.deleted", deleted=True).model_dump()
        )
    body, _ = parse_body(request, UpdateVectorStoreFileAttributesRequest)
    row = services.update_file_attributes(request.project, vector_store_id, file_id, body.attributes)
    return _file_response(row)


@api_view("GET")
def file_content(request: ApiRequest, vector_store_id: str, file_id: str) -> HttpResponse:
    text = services.file_content(request.project, vector_store_id, file_id)
    page = FileContentPage(data=[TextContent(text=text)] if text else [])
    return json_response(page.model_dump(mode="json"))


@api_view("POST")
def file_batches(request: ApiRequest, vector_store_id: str) -> HttpResponse:
    body, _ = parse_body(request, CreateVectorStoreFileBatchRequest)
    if body.file_ids is not None and body.files is not None:
        raise invalid_request(
            "Invalid request: 'file_ids' and 'files' are mutually exclusive; give one of them.", param="files"
        )
    if body.files is not None:
        # With `files`, each file carries its own attributes and chunking_strategy.
        new_files = [_new_file(item) for item in body.files]
    elif body.file_ids is not None:
        strategy = stored_chunking(body.chunking_strategy)
        new_files = [services.NewFile(file_id, strategy, body.attributes or {}) for file_id in body.file_ids]
    else:
        raise invalid_request(
            "Missing required parameter: 'file_ids'.", param="file_ids", code="missing_required_parameter"
        )
    return _batch_response(services.create_batch(request.project, vector_store_id, new_files))


@api_view("GET")
def file_batch(request: ApiRequest, vector_store_id: str, batch_id: str) -> HttpResponse:
    return _batch_response(services.get_batch(request.project, vector_store_id, batch_id))


@api_view("POST")
def cancel_file_batch(request: ApiRequest, vector_store_id: str, batch_id: str) -> HttpResponse:
    return _batch_response(services.cancel_batch(request.project, vector_store_id, batch_id))


@api_view("GET")
def file_batch_files(request: ApiRequest, vector_store_id: str, batch_id: str) -> HttpResponse:
    status = _status_filter(request)
    return _file_list(request, services.list_batch_files(request.project, vector_store_id, batch_id, status))


@api_view("POST")
def search(request: ApiRequest, vector_store_id: str) -> HttpResponse:
    body, _ = parse_body(request, VectorStoreSearchRequest)
    ranking = body.ranking_options
    # rewrite_query is accepted; the query is searched as given.
    hits = services.search(
        request.project,
        vector_store_id,
        body.query,
        max_num_results=body.max_num_results,
        score_threshold=ranking.score_threshold if ranking else 0.0,
        filters=body.filters.model_dump(mode="json") if body.filters else None,
        ranker=ranking.ranker if ranking else "auto",
    )
    page = SearchResultsPage(
        search_query=[body.query] if isinstance(body.query, str) else list(body.query),
        data=[SearchResult.of(hit) for hit in hits],
    )
    return json_response(page.model_dump(mode="json"))
