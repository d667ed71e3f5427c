"""Per-provider quirks: how a Chat Completions request is reshaped for a server that departs from OpenAI.

A provider's quirks are named in its LLM_PROVIDERS route (`"quirks": ["json_object_schema", ...]`)
or, for LLM_BASE_URL, in LLM_QUIRKS (comma-separated). A preset names a known server's set:
`llama-cpp-python` (its OpenAI-compatible server, which serves the built-in demo model). With no quirks the
request goes out exactly as built, as OpenAI expects it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# response_format json_schema is refused (HTTP 500); the server takes {"type": "json_object", "schema": ...}.
JSON_OBJECT_SCHEMA = "json_object_schema"
# tool_choice "required" is refused: a single tool is named instead, several get "auto" and an instruction.
NO_REQUIRED_TOOL_CHOICE = "no_required_tool_choice"
# max_completion_tokens is ignored (the answer runs on to the context's end): send max_tokens.
MAX_TOKENS = "max_tokens"
# A weak model calls the same tool again instead of answering: after a run's tool outputs, the
# next call offers no tools (OpenAI's models decide for themselves, and may chain tools).
TOOLS_ONCE = "tools_once"

KNOWN = frozenset({JSON_OBJECT_SCHEMA, NO_REQUIRED_TOOL_CHOICE, MAX_TOKENS, TOOLS_ONCE})
PRESETS = {"llama-cpp-python": frozenset({JSON_OBJECT_SCHEMA, NO_REQUIRED_TOOL_CHOICE, MAX_TOKENS, TOOLS_ONCE})}

REQUIRED_INSTRUCTION = "You must answer by calling one of the tools."


def parse(value: str | Iterable[str] | None) -> frozenset[str]:
    """Quirk names from a setting: a comma-separated string or a list; presets expanded."""
    if not value:
        return frozenset()
    names = value.split(",") if isinstance(value, str) else list(value)
    found: set[str] = set()
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name in PRESETS:
            found |= PRESETS[name]
        elif name in KNOWN:
            found.add(name)
        else:
            raise ValueError(f"Unknown provider quirk {name!r}; known: {', '.join(sorted(KNOWN | set(PRESETS)))}")
    return frozenset(found)


def adapt(request: dict[str, Any], quirks: frozenset[str], after_tool_outputs: bool = False) -> dict[str, Any]:
    """The request as this provider takes it (a new dict; the argument is left alone).

    after_tool_outputs: the run has already called tools and had their outputs back.
    """
    if not quirks:
        return request
    request = dict(request)
    if TOOLS_ONCE in quirks and after_tool_outputs:
        for key in ("tools", "tool_choice", "parallel_tool_calls"):
            request.pop(key, None)
    response_format = request.get("response_format")
    if JSON_OBJECT_SCHEMA in quirks and isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        request["response_format"] = {"type": "json_object", **({"schema": schema} if schema else {})}
    if NO_REQUIRED_TOOL_CHOICE in quirks and request.get("tool_choice") == "required" and request.get("tools"):
        tools = request["tools"]
        if len(tools) == 1:
            request["tool_choice"] = {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
        else:
            request["tool_choice"] = "auto"
            request["messages"] = [*request["messages"], {"role": "system", "content": REQUIRED_INSTRUCTION}]
    if MAX_TOKENS in quirks and "max_completion_tokens" in request:
        request["max_tokens"] = request.pop("max_completion_tokens")
    return request
