"""/v1/conversations: a conversation is a thread; its items are the thread's messages and the rest."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from console.api.endpoint import ApiRequest, api_view
from console.api.jsonresp import json_response
from console.api.pagination import page_from_query, page_response
from console.api.response_input import stored_item
from console.api.schemas.responses import (
    CreateConversationRequest,
    CreateItemsRequest,
    UpdateConversationRequest,
)
from console.api.validation import parse_body
from console.conversations import items as conversation_items
from console.conversations import services
from console.threads.models import Thread


def conversation_object(thread: Thread) -> dict[str, Any]:
    return {
        "id": thread.id,
        "object": "conversation",
        "created_at": thread.created_at_unix,
        "metadata": thread.metadata,
    }


@api_view("POST")
def conversations(request: ApiRequest) -> HttpResponse:
    body, _ = parse_body(request, CreateConversationRequest)
    items = [stored_item(item) for item in body.items or []]
    thread = services.create_conversation(request.project, items, body.metadata or {})
    return json_response(conversation_object(thread))


@api_view("GET", "POST", "DELETE")
def conversation(request: ApiRequest, conversation_id: str) -> HttpResponse:
    thread = services.get_conversation(request.project, conversation_id)
    if request.method == "DELETE":
        thread.delete()
        return json_response({"id": conversation_id, "object": "conversation.deleted", "deleted": True})
    if request.method == "POST":
        body, _ = parse_body(request, UpdateConversationRequest)
        thread.metadata = body.metadata or {}
        thread.save(update_fields=["metadata"])
    return json_response(conversation_object(thread))


@api_view("GET", "POST")
def items(request: ApiRequest, conversation_id: str) -> HttpResponse:
    if request.method == "POST":
        body, _ = parse_body(request, CreateItemsRequest)
        added = services.add_items(request.project, conversation_id, [stored_item(i) for i in body.items])
        return page_response(added, False)
    thread = services.get_conversation(request.project, conversation_id)
    page = page_from_query(request.GET, allow_before=False)
    data, has_more = conversation_items.list_items(
        thread, limit=page.limit, order=page.order, after=page.after
    )
    return page_response(data, has_more)


@api_view("GET", "DELETE")
def item(request: ApiRequest, conversation_id: str, item_id: str) -> HttpResponse:
    thread = services.get_conversation(request.project, conversation_id)
    if request.method == "DELETE":
        services.require_idle(thread)
        conversation_items.delete_item(thread, item_id)
        return json_response(conversation_object(thread))
    return json_response(conversation_items.get_item(thread, item_id))
