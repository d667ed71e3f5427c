"""Objects in OpenAI's response shape: what a GET returns and what a run's stream events carry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from console.core.models import unix

if TYPE_CHECKING:
    from console.runs.models import Run, RunStep
    from console.threads.models import Message, Thread


def thread_object(t: Thread) -> dict[str, Any]:
    return {
        "id": t.id,
        "object": "thread",
        "created_at": t.created_at_unix,
        "tool_resources": t.tool_resources,
        "metadata": t.metadata,
    }


def message_object(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "object": "thread.message",
        "created_at": m.created_at_unix,
        "thread_id": m.thread_id,
        "status": m.status,
        "incomplete_details": m.incomplete_details,
        "completed_at": unix(m.completed_at),
        "incomplete_at": unix(m.incomplete_at),
        "role": m.role,
        "content": m.content,
        "assistant_id": m.assistant_id,
        "run_id": m.run_id,
        "attachments": m.attachments,
        "metadata": m.metadata,
    }


def run_object(r: Run) -> dict[str, Any]:
    return {
        "id": r.id,
        "object": "thread.run",
        "created_at": r.created_at_unix,
        "thread_id": r.thread_id,
        "assistant_id": r.assistant_id,
        "status": r.status,
        "required_action": r.required_action,
        "last_error": r.last_error,
        "expires_at": None if r.is_terminal else unix(r.expires_at),
        "started_at": unix(r.started_at),
        "cancelled_at": unix(r.cancelled_at),
        "failed_at": unix(r.failed_at),
        "completed_at": unix(r.completed_at),
        "incomplete_details": r.incomplete_details,
        "model": r.model,
        # What the model was given: the base instructions with the additional ones appended.
        "instructions": r.effective_instructions,
        "tools": r.tools,
        "metadata": r.metadata,
        "usage": r.usage,
        "temperature": r.temperature,
        "top_p": r.top_p,
        "max_prompt_tokens": r.max_prompt_tokens,
        "max_completion_tokens": r.max_completion_tokens,
        "truncation_strategy": r.truncation_strategy,
        "tool_choice": r.tool_choice,
        "parallel_tool_calls": r.parallel_tool_calls,
        "response_format": r.response_format,
        "reasoning_effort": r.reasoning_effort,
    }


def step_object(s: RunStep, include_content: bool = False) -> dict[str, Any]:
    """A run step; file_search results carry their content only when include[] asks for it."""
    details = s.step_details
    if not include_content and s.type == "tool_calls":
        details = _without_file_search_content(details)
    return {
        "id": s.id,
        "object": "thread.run.step",
        "created_at": s.created_at_unix,
        "assistant_id": s.assistant_id,
        "thread_id": s.thread_id,
        "run_id": s.run_id,
        "type": s.type,
        "status": s.status,
        "step_details": details,
        "last_error": s.last_error,
        "expired_at": unix(s.expired_at),
        "cancelled_at": unix(s.cancelled_at),
        "failed_at": unix(s.failed_at),
        "completed_at": unix(s.completed_at),
        "metadata": s.metadata,
        "usage": s.usage,
    }


def _without_file_search_content(details: dict[str, Any]) -> dict[str, Any]:
    calls = []
    for call in details.get("tool_calls", []):
        results = (call.get("file_search") or {}).get("results")
        if results:
            stripped = [{k: v for k, v in result.items() if k != "content"} for result in results]
            call = {**call, "file_search": {**call["file_search"], "results": stripped}}
        calls.append(call)
    return {**details, "tool_calls": calls}
