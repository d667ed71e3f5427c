"""A response's prompt: its instructions, then the items before it and its input, as chat messages.

Items follow the Responses API's shapes; function calls become the assistant's tool_calls and
their outputs `tool` messages, as a run's tool steps do (console/engine/prompt.py).
"""

from __future__ import annotations

from typing import Any

from console import tokens
from console.engine.prompt import AUTO_TRUNCATION_LIMIT, _image_url
from console.files import storage
from console.files.models import File
from console.retrieval.parsing import extract_text


def _file_text(part: dict[str, Any]) -> str:
    file = File.objects.filter(pk=part.get("file_id")).first()
    if file is None:
        return ""
    suffix = "." + file.filename.rsplit(".", 1)[-1] if "." in file.filename else ""
    with storage.local_path(file.storage_name, suffix) as path:
        text = extract_text(path, file.filename)
    return f"[file {file.filename}]\n{text}"


def _content(parts: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if isinstance(parts, str):
        return parts
    out: list[dict[str, Any]] = []
    for part in parts:
        kind = part["type"]
        if kind in ("input_text", "output_text"):
            out.append({"type": "text", "text": part["text"]})
        elif kind == "refusal":
            out.append({"type": "text", "text": part["refusal"]})
        elif kind == "input_image":
            detail = part.get("detail") or "auto"
            if part.get("file_id"):
                image = _image_url(part["file_id"], detail)
                if image:
                    out.append({"type": "image_url", "image_url": image})
            elif part.get("image_url"):
                out.append({"type": "image_url", "image_url": {"url": part["image_url"], "detail": detail}})
        elif kind == "input_file" and part.get("file_id"):
            out.append({"type": "text", "text": _file_text(part)})
    if all(p["type"] == "text" for p in out):
        return "".join(p["text"] for p in out)
    return out


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    return "".join(p.get("text", "") for p in output if isinstance(p, dict))


def chat_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for group in groups(items) for m in group]


def groups(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Chat messages in groups truncation keeps whole: a message, or tool calls with their outputs."""
    found: list[list[dict[str, Any]]] = []
    calls: dict[str, Any] | None = None
    for item in items:
        kind = item.get("type", "message")
        if kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            if calls is None:
                # "" rather than null next to tool_calls: llama.cpp's server takes only "".
                calls = {"role": "assistant", "content": "", "tool_calls": []}
                found.append([calls])
            calls["tool_calls"].append(call)
            continue
        if kind == "function_call_output":
            answer = {
                "role": "tool",
                "tool_call_id": item["call_id"],
                "content": _output_text(item["output"]),
            }
            if found and calls is not None:
                found[-1].append(answer)
            else:
                found.append([answer])
            continue
        calls = None
        if kind != "message":
            continue
        role = "system" if item["role"] == "developer" else item["role"]
        content = _content(item["content"])
        if content == "" or content == []:
            continue
        found.append([{"role": role, "content": content}])
    return found


def build(
    instructions: str | None, items: list[dict[str, Any]], truncation: str, limit: int = AUTO_TRUNCATION_LIMIT
) -> tuple[list[dict[str, Any]], bool]:
    """The chat messages, and whether they are over the limit (after `auto` truncation dropped the
    oldest groups, keeping at least the newest)."""
    head = [{"role": "system", "content": instructions}] if instructions else []
    parts = groups(items)
    sizes = [sum(tokens.count_message(m) for m in group) for group in parts]
    total = sum(tokens.count_message(m) for m in head) + sum(sizes)
    if truncation == "auto":
        while total > limit and len(parts) > 1:
            total -= sizes.pop(0)
            parts.pop(0)
        # A tool output whose call was dropped would be refused by the provider.
        while len(parts) > 1 and parts[0][0]["role"] == "tool":
            total -= sizes.pop(0)
            parts.pop(0)
    return head + [m for group in parts for m in group], total > limit
