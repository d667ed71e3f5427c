"""Conversation items over a thread: Message rows for user and assistant messages, ConversationItem
rows for the rest, read back in one (created_at, id) order.

Items here are in the Responses API's shape (`{"type": "message", "role", "content": [...]}`,
`{"type": "function_call", ...}`), already validated and given ids by the API layer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from console.conversations.models import ConversationItem
from console.core.errors import DomainError, NotFound
from console.threads.models import Message, Thread

# Roles the Assistants API has: these messages are the thread's own.
THREAD_ROLES = ("user", "assistant")


def _thread_part(part: dict[str, Any]) -> dict[str, Any] | None:
    kind = part["type"]
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": {"value": part["text"], "annotations": []}}
    if kind == "input_image":
        detail = part.get("detail") or "auto"
        if part.get("file_id"):
            return {"type": "image_file", "image_file": {"file_id": part["file_id"], "detail": detail}}
        return {"type": "image_url", "image_url": {"url": part["image_url"], "detail": detail}}
    return None  # input_file: kept as an attachment


def _message_row(thread: Thread, item: dict[str, Any], at: datetime) -> Message:
    content = [p for p in (_thread_part(part) for part in item["content"]) if p is not None]
    attachments = [
        {"file_id": part["file_id"], "tools": []}
        for part in item["content"]
        if part["type"] == "input_file" and part.get("file_id")
    ]
    status = item.get("status") or "completed"
    return Message(
        id=item["id"],
        thread=thread,
        created_at=at,
        role=item["role"],
        status=status,
        content=content,
        attachments=attachments,
        metadata={},
        completed_at=at if status == "completed" else None,
        incomplete_at=at if status == "incomplete" else None,
        incomplete_details={"reason": "max_tokens"} if status == "incomplete" else None,
    )


def _is_thread_message(item: dict[str, Any]) -> bool:
    return item["type"] == "message" and item.get("role") in THREAD_ROLES


def append(thread: Thread, items: list[dict[str, Any]], response_id: str | None = None) -> None:
    """Adds items to the end of the conversation, one microsecond apart so their order holds."""
    now = timezone.now()
    messages: list[Message] = []
    others: list[ConversationItem] = []
    for index, item in enumerate(items):
        at = now + timedelta(microseconds=index)
        if _is_thread_message(item):
            row = _message_row(thread, item, at)
            row.run_id = response_id
            messages.append(row)
        else:
            body = {k: v for k, v in item.items() if k != "id"}
            others.append(
                ConversationItem(id=item["id"], thread=thread, created_at=at, type=item["type"], body=body)
            )
    with transaction.atomic():
        Message.objects.bulk_create(messages)
        ConversationItem.objects.bulk_create(others)
        if items:
            last = now + timedelta(microseconds=len(items) - 1)
            Thread.objects.filter(pk=thread.pk, last_activity_at__lt=last).update(last_activity_at=last)


def _item_part(role: str, part: dict[str, Any]) -> dict[str, Any] | None:
    if part["type"] == "text":
        if role == "assistant":
            return {
                "type": "output_text",
                "text": part["text"]["value"],
                "annotations": [],
                "logprobs": [],
            }
        return {"type": "input_text", "text": part["text"]["value"]}
    if part["type"] == "image_url":
        return {
            "type": "input_image",
            "image_url": part["image_url"]["url"],
            "file_id": None,
            "detail": part["image_url"].get("detail") or "auto",
        }
    if part["type"] == "image_file":
        return {
            "type": "input_image",
            "image_url": None,
            "file_id": part["image_file"]["file_id"],
            "detail": part["image_file"].get("detail") or "auto",
        }
    return None


def message_item(message: Message) -> dict[str, Any]:
    content = [p for p in (_item_part(message.role, part) for part in message.content) if p is not None]
    content += [{"type": "input_file", "file_id": a["file_id"]} for a in message.attachments or []]
    return {
        "type": "message",
        "id": message.id,
        "status": "completed" if message.status == "completed" else "incomplete",
        "role": message.role,
        "content": content,
    }


def row_item(row: ConversationItem) -> dict[str, Any]:
    return {"id": row.id, **row.body}


def _render(row: Message | ConversationItem) -> dict[str, Any]:
    return message_item(row) if isinstance(row, Message) else row_item(row)


def history(thread: Thread) -> list[dict[str, Any]]:
    """Every item of the conversation, oldest first."""
    rows: list[Message | ConversationItem] = [
        *Message.objects.filter(thread=thread),
        *ConversationItem.objects.filter(thread=thread),
    ]
    rows.sort(key=lambda r: (r.created_at, r.id))
    return [_render(row) for row in rows]


def list_items(
    thread: Thread, *, limit: int, order: str, after: str | None
) -> tuple[list[dict[str, Any]], bool]:
    """One page of items in (created_at, id) order across both tables, and whether more follow."""
    descending = order == "desc"
    messages = Message.objects.filter(thread=thread)
    others = ConversationItem.objects.filter(thread=thread)
    if after:
        anchor = (
            messages.filter(pk=after).values_list("created_at", flat=True).first()
            or others.filter(pk=after).values_list("created_at", flat=True).first()
        )
        if anchor is None:
            raise DomainError(f"No item found with id '{after}' for cursor 'after'.", param="after")
        if descending:
            cursor = Q(created_at__lt=anchor) | Q(created_at=anchor, pk__lt=after)
        else:
            cursor = Q(created_at__gt=anchor) | Q(created_at=anchor, pk__gt=after)
        messages, others = messages.filter(cursor), others.filter(cursor)
    ordering = ("-created_at", "-id") if descending else ("created_at", "id")
    rows: list[Message | ConversationItem] = [
        *messages.order_by(*ordering)[: limit + 1],
        *others.order_by(*ordering)[: limit + 1],
    ]
    rows.sort(key=lambda r: (r.created_at, r.id), reverse=descending)
    return [_render(row) for row in rows[:limit]], len(rows) > limit


def _find(thread: Thread, item_id: str) -> Message | ConversationItem:
    found: Message | ConversationItem | None = (
        Message.objects.filter(thread=thread, pk=item_id).first()
        or ConversationItem.objects.filter(thread=thread, pk=item_id).first()
    )
    if found is None:
        raise NotFound("item", item_id)
    return found


def get_item(thread: Thread, item_id: str) -> dict[str, Any]:
    return _render(_find(thread, item_id))


def delete_item(thread: Thread, item_id: str) -> None:
    _find(thread, item_id).delete()


def find_in_project(project_id: int, item_id: str) -> dict[str, Any]:
    """A stored item of any of the project's conversations (an input's item_reference)."""
    found: Message | ConversationItem | None = (
        Message.objects.filter(thread__project_id=project_id, pk=item_id).first()
        or ConversationItem.objects.filter(thread__project_id=project_id, pk=item_id).first()
    )
    if found is None:
        raise NotFound("item", item_id)
    return _render(found)
