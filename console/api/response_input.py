"""Request items in the stored shape: validated models become the items the services keep."""

from __future__ import annotations

from typing import Any

from console.api.schemas.responses import (
    FunctionCallItem,
    FunctionCallOutputItem,
    ItemReference,
    MessageItem,
)
from console.core.ids import new_id


def _part(part: Any) -> dict[str, Any]:
    data: dict[str, Any] = part.model_dump(exclude_none=True)
    if data["type"] == "output_text":
        data.setdefault("annotations", [])
        data.setdefault("logprobs", [])
    if data["type"] == "input_image":
        data.setdefault("detail", "auto")
    return data


def message_content(role: str, content: str | list[Any]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if role == "assistant":
            return [{"type": "output_text", "text": content, "annotations": [], "logprobs": []}]
        return [{"type": "input_text", "text": content}]
    return [_part(part) for part in content]


def stored_item(
    item: MessageItem | FunctionCallItem | FunctionCallOutputItem | ItemReference,
) -> dict[str, Any]:
    """An item with a fresh id: ids the client sent may already name stored items."""
    if isinstance(item, MessageItem):
        return {
            "type": "message",
            "id": new_id("msg_"),
            "status": item.status or "completed",
            "role": item.role,
            "content": message_content(item.role, item.content),
        }
    if isinstance(item, FunctionCallItem):
        return {
            "type": "function_call",
            "id": new_id("fc_"),
            "status": "completed",
            "call_id": item.call_id,
            "name": item.name,
            "arguments": item.arguments,
        }
    if isinstance(item, FunctionCallOutputItem):
        output = item.output if isinstance(item.output, str) else [_part(p) for p in item.output]
        return {
            "type": "function_call_output",
            "id": new_id("fco_"),
            "status": "completed",
            "call_id": item.call_id,
            "output": output,
        }
    return {"type": "item_reference", "id": item.id}


def input_items(value: str | list[Any] | None) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [stored_item(MessageItem(role="user", content=value))]
    return [stored_item(item) for item in value]
