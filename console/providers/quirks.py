"""Per-provider quirks: how a Chat Completions request is reshaped for a server that departs from OpenAI.

A provider's quirks are named in its LLM_PROVIDERS route (`"quirks": ["json_object_schema", ...]`)
or, for LLM_BASE_URL, in LLM_QUIRKS (comma-separated). A preset names a known server's set:
`llama-cpp-python` (its OpenAI-compatible server, which serves the built-in demo model). With no quirks the
request goes out exactly as built, as OpenAI expects it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

# response_format json_schema is refused (HTTP 500); the server takes {"type": "json_object", "schema": ...}.
JSON_OBJECT_SCHEMA = "json_object_schema"
# tool_choice "required" is refused: a single tool is named instead, several get "auto" and an instruction.
NO_REQUIRED_TOOL_CHOICE = "no_required_tool_choice"
# max_completion_tokens is ignored (the answer runs on to the context's end): send max_tokens.
MAX_TOKENS = "max_tokens"
# A weak model calls the same tool again instead of answering: after a run's tool outputs, the
# next call offers no tools (OpenAI's models decide for themselves, and may chain tools).
TOOLS_ONCE = "tools_once"

# The chat template drops role "tool" messages (llama-cpp-python's chatml-function-calling renders
# only system, user and assistant): a tool's output goes as a user message naming the call instead.
TOOL_RESULTS_AS_USER = "tool_results_as_user"

# JSON output (json_object answers, tool-call arguments) holds raw newlines and other control
# characters inside strings, which JSON forbids (llama-cpp-python's grammar allows them): they are
# escaped as they stream in.
JSON_CONTROL_CHARS = "json_control_chars"

# Tools offered under tool_choice "auto" cannot stream: llama-cpp-python's chatml-function-calling
# raises "Automatic streaming tool choice is not supported" and the stream ends unfinished. Such a
# request is made without streaming, and its answer replayed as chunks (console/providers/chat.py).
NO_STREAMED_AUTO_TOOLS = "no_streamed_auto_tools"

# Only the built-in demo model's (console/demo_model.py): a 135M model cannot judge when to search,
# so a run whose tools include file_search searches on its first model call (tool_choice "auto"
# becomes file_search), then answers from what it found. docs/models.md documents it.
SEARCH_FIRST = "search_first"

KNOWN = frozenset(
    {
        SEARCH_FIRST,
        JSON_OBJECT_SCHEMA,
        NO_STREAMED_AUTO_TOOLS,
        NO_REQUIRED_TOOL_CHOICE,
        MAX_TOKENS,
        TOOLS_ONCE,
        TOOL_RESULTS_AS_USER,
        JSON_CONTROL_CHARS,
    }
)
PRESETS = {"llama-cpp-python": KNOWN - {SEARCH_FIRST}}

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
            raise ValueError(
                f"Unknown provider quirk {name!r}; known: {', '.join(sorted(KNOWN | set(PRESETS)))}"
            )
    return frozenset(found)


def adapt(
    request: dict[str, Any], quirks: frozenset[str], after_tool_outputs: bool = False
) -> dict[str, Any]:
    """The request as this provider takes it (a new dict; the argument is left alone).

    after_tool_outputs: the run has already called tools and had their outputs back.
    """
    if not quirks:
        return request
    request = dict(request)
    if TOOLS_ONCE in quirks and after_tool_outputs:
        for key in ("tools", "tool_choice", "parallel_tool_calls"):
            request.pop(key, None)
    if (
        SEARCH_FIRST in quirks
        and not after_tool_outputs
        and request.get("tool_choice", "auto") == "auto"
        and any(tool["function"]["name"] == "file_search" for tool in request.get("tools") or ())
    ):
        request["tool_choice"] = {"type": "function", "function": {"name": "file_search"}}
    response_format = request.get("response_format")
    if (
        JSON_OBJECT_SCHEMA in quirks
        and isinstance(response_format, dict)
        and response_format.get("type") == "json_schema"
    ):
        schema = (response_format.get("json_schema") or {}).get("schema")
        request["response_format"] = {"type": "json_object", **({"schema": schema} if schema else {})}
    if (
        NO_REQUIRED_TOOL_CHOICE in quirks
        and request.get("tool_choice") == "required"
        and request.get("tools")
    ):
        tools = request["tools"]
        if len(tools) == 1:
            request["tool_choice"] = {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
        else:
            request["tool_choice"] = "auto"
            request["messages"] = _with_instruction(request["messages"], REQUIRED_INSTRUCTION)
    if TOOL_RESULTS_AS_USER in quirks:
        request["messages"] = _tool_results_as_user(request["messages"])
    if MAX_TOKENS in quirks and "max_completion_tokens" in request:
        request["max_tokens"] = request.pop("max_completion_tokens")
    return request


def streams(request: dict[str, Any], quirks: frozenset[str]) -> bool:
    """Whether this (adapted) request may be streamed by the provider."""
    if NO_STREAMED_AUTO_TOOLS not in quirks or not request.get("tools"):
        return True
    return request.get("tool_choice", "auto") != "auto"


def _with_instruction(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The messages with text added to the system message (one is put first if there is none)."""
    for index, message in enumerate(messages):
        if message.get("role") == "system" and isinstance(message.get("content"), str):
            joined = f"{message['content']}\n\n{text}" if message["content"] else text
            return [*messages[:index], {**message, "content": joined}, *messages[index + 1 :]]
    return [{"role": "system", "content": text}, *messages]


def _tool_results_as_user(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names: dict[str, str] = {}
    out = []
    for message in messages:
        for call in message.get("tool_calls") or []:
            names[call["id"]] = call["function"]["name"]
        if message.get("role") == "tool":
            name = names.get(message.get("tool_call_id", ""), "the tool")
            out.append({"role": "user", "content": f"Output of {name}:\n{message.get('content') or ''}"})
        else:
            out.append(message)
    return out


class _ToolCallDelta(Protocol):
    index: int
    arguments: str


class _Chunk(Protocol):
    content: str | None
    tool_calls: list[_ToolCallDelta]


class _JsonStringEscaper:
    """Escapes control characters inside the JSON strings of a text that arrives in pieces."""

    def __init__(self) -> None:
        self.in_string = False
        self.escaped = False

    def feed(self, text: str) -> str:
        out = []
        for char in text:
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif char == "\\":
                    self.escaped = True
                elif char == '"':
                    self.in_string = False
                elif char < " ":
                    char = _CONTROL_ESCAPES.get(char) or f"\\u{ord(char):04x}"
            elif char == '"':
                self.in_string = True
            out.append(char)
        return "".join(out)


_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


class StreamFixer:
    """Repairs a provider's streamed chunks in place, for quirks that show in the answer."""

    def __init__(self, request: dict[str, Any]) -> None:
        response_format = request.get("response_format")
        json_answer = isinstance(response_format, dict) and response_format.get("type") in (
            "json_object",
            "json_schema",
        )
        self.content = _JsonStringEscaper() if json_answer else None
        self.arguments: dict[int, _JsonStringEscaper] = {}

    @classmethod
    def for_request(cls, request: dict[str, Any], quirks: frozenset[str]) -> StreamFixer | None:
        return cls(request) if JSON_CONTROL_CHARS in quirks else None

    def apply(self, chunks: list[Any]) -> None:
        for chunk in chunks:
            if self.content is not None and chunk.content:
                chunk.content = self.content.feed(chunk.content)
            for delta in chunk.tool_calls:
                if delta.arguments:
                    escaper = self.arguments.setdefault(delta.index, _JsonStringEscaper())
                    delta.arguments = escaper.feed(delta.arguments)
