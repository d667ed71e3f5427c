"""Prompt assembly: instructions, then the thread's messages and earlier tool calls, truncated."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from console import tokens
from console.engine.search_tool import for_model_from_details
from console.files import storage
from console.files.models import File
from console.runs.models import Run, RunStep
from console.threads.models import Message

# Headroom so a prompt never fills the whole context with nothing left for the answer.
AUTO_TRUNCATION_LIMIT = 120_000


@dataclass
class Prompt:
    messages: list[dict[str, Any]]
    tokens: int
    too_long: bool
    # This run already called tools and has their outputs: a forced tool_choice has been honoured.
    after_tool_outputs: bool = False


def _image_url(file_id: str, detail: str) -> dict[str, Any] | None:
    file = File.objects.filter(pk=file_id).first()
    if file is None:
        return None
    data = storage.read_bytes(file.storage_name)
    media = "image/png"
    lowered = file.filename.lower()
    if lowered.endswith((".jpg", ".jpeg")):
        media = "image/jpeg"
    elif lowered.endswith(".gif"):
        media = "image/gif"
    elif lowered.endswith(".webp"):
        media = "image/webp"
    return {"url": f"data:{media};base64,{base64.b64encode(data).decode()}", "detail": detail}


def _message_content(message: Message) -> str | list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if part["type"] == "text":
            parts.append({"type": "text", "text": part["text"]["value"]})
        elif part["type"] == "image_url":
            parts.append({"type": "image_url", "image_url": part["image_url"]})
        elif part["type"] == "image_file":
            image = _image_url(part["image_file"]["file_id"], part["image_file"].get("detail", "auto"))
            if image:
                parts.append({"type": "image_url", "image_url": image})
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _tool_turn(step: RunStep) -> list[dict[str, Any]]:
    """A finished tool step as the assistant's tool_calls and the tools' answers."""
    calls: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for index, call in enumerate(step.step_details.get("tool_calls", [])):
        if call["type"] == "function":
            name, arguments = call["function"]["name"], call["function"]["arguments"]
            output = call["function"].get("output") or ""
        elif call["type"] == "file_search":
            name, arguments = "file_search", "{}"
            output = for_model_from_details(call["file_search"], index)
        elif call["type"] == "code_interpreter":
            name = "code_interpreter"
            arguments = json.dumps({"code": call["code_interpreter"]["input"]})
            output = _code_output(call["code_interpreter"]["outputs"])
        else:
            continue
        calls.append(
            {"id": call["id"], "type": "function", "function": {"name": name, "arguments": arguments}}
        )
        answers.append({"role": "tool", "tool_call_id": call["id"], "content": output})
    if not calls:
        return []
    # "" rather than null next to tool_calls: OpenAI takes either, llama.cpp's server only "".
    return [{"role": "assistant", "content": "", "tool_calls": calls}, *answers]


def _code_output(outputs: list[dict[str, Any]]) -> str:
    parts = []
    for output in outputs:
        if output["type"] == "logs":
            parts.append(output["logs"])
        elif output["type"] == "image":
            parts.append(f"[image {output['image']['file_id']}, shown to the user]")
    return "\n".join(parts) or "(no output)"


def _timeline(run: Run) -> tuple[list[list[dict[str, Any]]], bool]:
    """The thread's history as groups that must stay together (a tool call and its outputs), and
    whether this run has finished tool calls among them."""
    entries: list[tuple[Any, str, list[dict[str, Any]]]] = []
    for message in Message.objects.filter(thread_id=run.thread_id).order_by("created_at", "id"):
        content = _message_content(message)
        if content == "" or content == []:
            continue
        entries.append((message.created_at, message.id, [{"role": message.role, "content": content}]))
    steps = RunStep.objects.filter(run__thread_id=run.thread_id, type="tool_calls", status="completed")
    after_tool_outputs = False
    for step in steps.order_by("created_at", "id"):
        turn = _tool_turn(step)
        if turn:
            entries.append((step.created_at, step.id, turn))
            after_tool_outputs = after_tool_outputs or step.run_id == run.pk
    entries.sort(key=lambda e: (e[0], e[1]))
    return [group for _, _, group in entries], after_tool_outputs


def system_text(run: Run) -> str:
    return run.effective_instructions


def build(run: Run) -> Prompt:
    groups, after_tool_outputs = _timeline(run)
    strategy = run.truncation_strategy or {"type": "auto"}
    if strategy.get("type") == "last_messages" and strategy.get("last_messages"):
        groups = groups[-int(strategy["last_messages"]) :]
    system = system_text(run)
    head = [{"role": "system", "content": system}] if system else []
    limit = run.max_prompt_tokens or AUTO_TRUNCATION_LIMIT
    head_tokens = sum(tokens.count_message(m) for m in head)
    group_tokens = [sum(tokens.count_message(m) for m in group) for group in groups]
    total = head_tokens + sum(group_tokens)
    # Drop the oldest history first, keeping at least the newest group.
    while total > limit and len(groups) > 1:
        total -= group_tokens.pop(0)
        groups.pop(0)
    messages = head + [m for group in groups for m in group]
    return Prompt(
        messages=messages, tokens=total, too_long=total > limit, after_tool_outputs=after_tool_outputs
    )
