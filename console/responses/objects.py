"""The Response object in OpenAI's shape, as GET returns it and stream events carry it."""

from __future__ import annotations

from typing import Any

from console.core.models import unix
from console.responses.models import Response

DEFAULT_TEXT = {"format": {"type": "text"}, "verbosity": "medium"}


def usage_object(usage: dict[str, int] | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {
        "input_tokens": usage.get("input_tokens", 0),
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": usage.get("output_tokens", 0),
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.get("total_tokens", 0),
    }


def tool_object(tool: dict[str, Any]) -> dict[str, Any]:
    """A function tool as the Response shows it: what was not given is null."""
    return {"description": None, "parameters": None, "strict": None, **tool}


def response_object(r: Response, *, status: str | None = None) -> dict[str, Any]:
    reasoning = r.reasoning or {}
    found = {
        "id": r.id,
        "object": "response",
        "created_at": r.created_at_unix,
        "status": status or r.status,
        "background": r.background,
        "completed_at": unix(r.completed_at),
        "conversation": {"id": r.conversation_id} if r.conversation_id else None,
        "error": r.error,
        "incomplete_details": r.incomplete_details,
        "instructions": r.instructions,
        "max_output_tokens": r.max_output_tokens,
        "max_tool_calls": r.max_tool_calls,
        "metadata": r.metadata,
        "model": r.model,
        "output": r.output,
        "parallel_tool_calls": r.parallel_tool_calls,
        "previous_response_id": r.previous_response_id,
        "prompt": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "safety_identifier": r.safety_identifier,
        "service_tier": "default",
        "store": r.store,
        "temperature": 1.0 if r.temperature is None else r.temperature,
        "text": {**DEFAULT_TEXT, **(r.text or {})},
        "tool_choice": r.tool_choice,
        "tools": [tool_object(tool) for tool in r.tools],
        "top_logprobs": 0,
        "top_p": 1.0 if r.top_p is None else r.top_p,
        "truncation": r.truncation,
        "usage": usage_object(r.usage),
    }
    if r.user is not None:  # a string when given, left out when not (OpenAI's spec has no null)
        found["user"] = r.user
    return found
