"""Per-provider quirks: how a Chat Completions request is reshaped for a server that departs from OpenAI.

A provider's quirks are named in its LLM_PROVIDERS route (`"quirks": ["json_object_schema", ...]`)
or, for LLM_BASE_URL, in LLM_QUIRKS (comma-separated). A preset names a known server's set:
`llama-cpp-python` (its OpenAI-compatible server, which serves the built-in demo model). With no quirks the
request goes out exactly as built, as OpenAI expects it.
"""

from __future__ import annotations

import re
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
# request is made without streaming, and its tool calls replayed as chunks. When it chooses to
# answer in text instead, that text is always empty (its grammar for that branch allows nothing but
# the end), so the text is asked for again without tools, streamed (console/providers/chat.py).
NO_STREAMED_AUTO_TOOLS = "no_streamed_auto_tools"

# Only the built-in demo model's (console/demo_model.py): a 135M model cannot judge when to search,
# nor write a query that finds anything, so a run whose tools include file_search searches for the
# user's last message first: that first call is answered here with the file_search call, without
# asking the model; the model then answers from what was found. docs/models.md documents it.
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
        request = without_tools(request)

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


def first_search(request: dict[str, Any], quirks: frozenset[str], after_tool_outputs: bool) -> str | None:
    """search_first: the query to search before the model is asked (the user's last message), or None."""
    if (
        SEARCH_FIRST not in quirks
        or after_tool_outputs
        or request.get("tool_choice", "auto") != "auto"
        or not any(tool["function"]["name"] == "file_search" for tool in request.get("tools") or ())
    ):
        return None
    for message in reversed(request.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if p.get("type") == "text")
            return str(content or "").strip() or None
    return None


def streams(request: dict[str, Any], quirks: frozenset[str]) -> bool:
    """Whether this (adapted) request may be streamed by the provider."""
    if NO_STREAMED_AUTO_TOOLS not in quirks or not request.get("tools"):
        return True
    return request.get("tool_choice", "auto") != "auto"


def without_tools(request: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k not in ("tools", "tool_choice", "parallel_tool_calls")}


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
    """Repairs a provider's answer as it streams, for quirks that show in the answer.

    json_control_chars: control characters in JSON strings are escaped in place. search_first (the
    demo model, which never copies a citation marker): an answer that follows a search and cites
    nothing gets the marker of the first source it was given, at its end (`closing_text`).
    """

    def __init__(self, request: dict[str, Any], escape: bool, cite: str | None) -> None:
        response_format = request.get("response_format")
        json_answer = isinstance(response_format, dict) and response_format.get("type") in (
            "json_object",
            "json_schema",
        )
        self.content = _JsonStringEscaper() if escape and json_answer else None
        self.escape_arguments = escape
        self.arguments: dict[int, _JsonStringEscaper] = {}
        self.cite = cite
        self.answer: list[str] = []

    @classmethod
    def for_request(cls, request: dict[str, Any], quirks: frozenset[str]) -> StreamFixer | None:
        escape = JSON_CONTROL_CHARS in quirks
        cite = _searched_source(request.get("messages") or []) if SEARCH_FIRST in quirks else None
        return cls(request, escape, cite) if escape or cite else None

    def apply(self, chunks: list[Any]) -> None:
        for chunk in chunks:
            if self.content is not None and chunk.content:
                chunk.content = self.content.feed(chunk.content)
            if self.cite and chunk.content:
                self.answer.append(chunk.content)
            if not self.escape_arguments:
                continue
            for delta in chunk.tool_calls:
                if delta.arguments:
                    escaper = self.arguments.setdefault(delta.index, _JsonStringEscaper())
                    delta.arguments = escaper.feed(delta.arguments)

    def closing_text(self) -> str:
        """Text to add at the end of the answer ("" for none)."""
        if not self.cite or not self.answer or CITATION_MARKER.search("".join(self.answer)):
            return ""
        return f" {self.cite}"


# A file_search source's marker (console/engine/search_tool.py writes them).
CITATION_MARKER = re.compile(r"【\d+:\d+†[^】]*】")


def _searched_source(messages: list[dict[str, Any]]) -> str | None:
    """The first source's marker in the search results the request ends with, if it does."""
    if not messages:
        return None
    last = messages[-1]
    content = last.get("content")
    if not isinstance(content, str):
        return None
    if last.get("role") == "tool" or (
        last.get("role") == "user" and content.startswith("Output of file_search")
    ):
        found = CITATION_MARKER.search(content)
        return found.group(0) if found else None
    return None
