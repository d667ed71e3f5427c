from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from console.api.endpoint import ApiRequest, api_view
from console.api.errors import invalid_request
from console.api.jsonresp import json_response
from console.api.pagination import Page, list_response, page_from_query, page_response, paginate
from console.api.schemas.base import DeletedObject
from console.api.schemas.messages import CreateMessageRequest, ModifyMessageRequest
from console.api.schemas.threads import CreateThreadRequest, ModifyThreadRequest
from console.api.schemas.tools import normalize_tool_resources
from console.api.validation import parse_body
from console.payloads.objects import message_object, thread_object
from console.threads import listing, services
from console.threads.models import Message, Thread

_METADATA_QUERY = re.compile(r"^metadata\[(.+)\]$")


def new_message(body: CreateMessageRequest) -> services.NewMessage:
    """Request content (a string or parts) in the stored response shape."""
    if isinstance(body.content, str):
        content: list[dict[str, Any]] = [{"type": "text", "text": {"value": body.content, "annotations": []}}]
    else:
        content = []
        for part in body.content:
            if part.type == "text":
                content.append({"type": "text", "text": {"value": part.text, "annotations": []}})
            else:
                content.append(part.model_dump())
    attachments = [a.model_dump() for a in body.attachments or []]
    return services.NewMessage(
        role=body.role, content=content, attachments=attachments, metadata=body.metadata or {}
    )


def _render_thread(thread: Thread) -> HttpResponse:
    return json_response(thread_object(thread))


def _render_message(message: Message) -> HttpResponse:
    return json_response(message_object(message))


def _metadata_filter(request: HttpRequest) -> dict[str, str]:
    return {m.group(1): request.GET[key] for key in request.GET if (m := _METADATA_QUERY.match(key))}


SEARCH_MAX_CHARS = 256


def time_param(request: HttpRequest, name: str) -> datetime | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise invalid_request(
            f"Invalid type for '{name}': expected an integer (Unix seconds), but got a string instead.",
            param=name,
            code="invalid_type",
        ) from None
    try:
        if value < 0:
            raise ValueError
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        raise invalid_request(
            f"Invalid '{name}': expected Unix seconds between 0 and 253402300799, but got {value} instead.",
            param=name,
            code="invalid_value",
        ) from None


def _search_filters(request: HttpRequest) -> dict[str, Any]:
    """The console's thread search: assistant_id, created_after/created_before (Unix seconds), q."""
    text = request.GET.get("q", "").strip()
    if len(text) > SEARCH_MAX_CHARS:
        raise invalid_request(
            f"Invalid 'q': string too long. Expected a string with maximum length {SEARCH_MAX_CHARS}, "
            f"but got a string with length {len(text)} instead.",
            param="q",
            code="string_above_max_length",
        )
    return {
        "assistant_id": request.GET.get("assistant_id", "").strip() or None,
        "created_after": time_param(request, "created_after"),
        "created_before": time_param(request, "created_before"),
        "last_activity_before": time_param(request, "last_activity_before"),
        "text": text or None,
    }


ORDER_BY = ("created_at", "last_activity")
INCLUDES = ("summary",)


def _listing_params(request: HttpRequest) -> tuple[str, bool]:
    """order_by=created_at|last_activity and include[]=summary (extensions, docs/api.md)."""
    order_by = request.GET.get("order_by") or "created_at"
    if order_by not in ORDER_BY:
        raise invalid_request(
            f"Invalid value: '{order_by}'. Supported values are: 'created_at' and 'last_activity'.",
            param="order_by",
            code="invalid_value",
        )
    includes = request.GET.getlist("include[]") + request.GET.getlist("include")
    for value in includes:
        if value not in INCLUDES:
            raise invalid_request(
                f"Invalid value: '{value}'. Supported values are: 'summary'.",
                param="include[]",
                code="invalid_value",
            )
    return order_by, "summary" in includes


def _thread_list(
    queryset: QuerySet[Thread], page: Page, order_by: str, include_summary: bool, text: str | None
) -> HttpResponse:
    if order_by == "last_activity":
        if page.before:
            raise invalid_request(
                "'before' is not supported with order_by=last_activity; page forward with 'after'.",
                param="before",
            )
        after = queryset.filter(pk=page.after).first() if page.after else None
        if page.after and after is None:
            raise invalid_request(
                f"No object found with id '{page.after}' for cursor 'after'.", param="after"
            )
        rows, has_more = listing.page_by_last_activity(
            queryset, limit=page.limit, descending=page.order == "desc", after=after
        )
    else:
        rows, has_more = paginate(queryset, page)
    data = [thread_object(row) for row in rows]
    if include_summary:
        found = listing.summaries(rows, text)
        for item in data:
            item["summary"] = found[item["id"]].as_dict()
    return page_response(data, has_more)


@api_view("GET", "POST")
def threads(request: ApiRequest) -> HttpResponse:
    if request.method == "GET":
        # An extension beyond OpenAI: list the project's threads, filtered by metadata[key]=value,
        # assistant, creation time and message text.
        page = page_from_query(request.GET)
        search = _search_filters(request)
        queryset = services.list_threads(request.project, _metadata_filter(request), **search)
        order_by, include_summary = _listing_params(request)
        if order_by == "created_at" and not include_summary:
            return list_response(queryset, page, thread_object)
        return _thread_list(queryset, page, order_by, include_summary, search["text"])
    body, _ = parse_body(request, CreateThreadRequest)
    thread = services.create_thread(
        request.project,
        messages=[new_message(m) for m in body.messages],
        tool_resources=normalize_tool_resources(body.tool_resources),
        metadata=body.metadata or {},
    )
    return _render_thread(thread)


@api_view("GET", "POST", "DELETE")
def thread(request: ApiRequest, thread_id: str) -> HttpResponse:
    if request.method == "GET":
        return _render_thread(services.get_thread(request.project, thread_id))
    if request.method == "DELETE":
        services.delete_thread(request.project, thread_id)
        return json_response(DeletedObject(id=thread_id, object="thread.deleted", deleted=True).model_dump())
    body, sent = parse_body(request, ModifyThreadRequest)
    changes: dict[str, Any] = {}
    if "tool_resources" in sent:
        changes["tool_resources"] = normalize_tool_resources(body.tool_resources)
    if "metadata" in sent:
        changes["metadata"] = body.metadata
    return _render_thread(services.update_thread(request.project, thread_id, changes))


@api_view("GET", "POST")
def messages(request: ApiRequest, thread_id: str) -> HttpResponse:
    if request.method == "GET":
        page = page_from_query(request.GET)
        queryset = services.list_messages(request.project, thread_id, run_id=request.GET.get("run_id"))
        return list_response(queryset, page, message_object)
    body, _ = parse_body(request, CreateMessageRequest)
    return _render_message(services.create_message(request.project, thread_id, new_message(body)))


@api_view("GET", "POST", "DELETE")
def message(request: ApiRequest, thread_id: str, message_id: str) -> HttpResponse:
    if request.method == "GET":
        return _render_message(services.get_message(request.project, thread_id, message_id))
    if request.method == "DELETE":
        services.delete_message(request.project, thread_id, message_id)
        return json_response(
            DeletedObject(id=message_id, object="thread.message.deleted", deleted=True).model_dump()
        )
    body, _ = parse_body(request, ModifyMessageRequest)
    return _render_message(services.update_message(request.project, thread_id, message_id, body.metadata))
