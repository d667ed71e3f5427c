"""Responses as the API sees them: create, retrieve, delete, cancel, input items, input tokens."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from console import tokens
from console.conversations import items as conversation_items
from console.conversations.services import get_conversation, require_idle
from console.core.errors import DomainError, NotFound, Unavailable
from console.core.ids import new_id
from console.events import stream
from console.files.models import File
from console.projects.models import Project
from console.responses import lifecycle
from console.responses.models import Response
from console.responses.objects import response_object
from console.threads.models import Thread

# How far back a previous_response_id chain is followed.
MAX_CHAIN = 1000


class ResponseNotFound(NotFound):
    def __init__(self, response_id: str) -> None:
        super().__init__("response", response_id)
        self.message = f"Response with id '{response_id}' not found."
        self.args = (self.message,)


@dataclass
class ResponseParams:
    model: str
    input: list[dict[str, Any]]
    instructions: str | None = None
    previous_response_id: str | None = None
    conversation_id: str | None = None
    store: bool = True
    background: bool = False
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True
    max_tool_calls: int | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    text: dict[str, Any] = field(default_factory=dict)
    reasoning: dict[str, Any] | None = None
    truncation: str = "disabled"
    metadata: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    safety_identifier: str | None = None


def get_response(project: Project, response_id: str) -> Response:
    found = Response.objects.filter(project=project, pk=response_id, store=True).first()
    if found is None:
        raise ResponseNotFound(response_id)
    return found


def chain(response: Response) -> list[Response]:
    """The response and those before it by previous_response_id, oldest first."""
    found = [response]
    while found[-1].previous_response_id and len(found) < MAX_CHAIN:
        previous = Response.objects.filter(pk=found[-1].previous_response_id).first()
        if previous is None:
            break
        found.append(previous)
    return list(reversed(found))


def history(response: Response) -> list[dict[str, Any]]:
    """The items before this response's input: its conversation's, or its chain's."""
    if response.conversation_id:
        # The conversation already holds this response's input (appended when it was created).
        thread = Thread.objects.get(pk=response.conversation_id)
        items = conversation_items.history(thread)
        own = {item["id"] for item in response.input}
        return [item for item in items if item["id"] not in own]
    earlier: list[dict[str, Any]] = []
    if response.previous_response_id:
        previous = Response.objects.filter(pk=response.previous_response_id).first()
        for step in chain(previous) if previous else []:
            earlier += step.input + step.output
    return earlier


def _resolve_references(project: Project, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """item_reference inputs become copies of the stored items they name, under new ids."""
    resolved = []
    for item in items:
        if item["type"] == "item_reference":
            found = conversation_items.find_in_project(project.pk, item["id"])
            prefix = {"message": "msg_", "function_call": "fc_", "function_call_output": "fco_"}.get(
                found["type"], "item_"
            )
            item = {**found, "id": new_id(prefix)}
        resolved.append(item)
    return resolved


def _check_call_outputs(items: list[dict[str, Any]], earlier: list[dict[str, Any]]) -> None:
    calls = {i["call_id"] for i in earlier + items if i["type"] == "function_call"}
    for index, item in enumerate(items):
        if item["type"] == "function_call_output" and item["call_id"] not in calls:
            raise DomainError(
                f"No tool call found for function call output with call_id {item['call_id']}.",
                param=f"input[{index}]",
            )


def _check_files(project: Project, items: list[dict[str, Any]]) -> None:
    for index, item in enumerate(items):
        for part_index, part in enumerate(item.get("content") or []):
            file_id = part.get("file_id") if isinstance(part, dict) else None
            if file_id and not File.objects.filter(project=project, pk=file_id).exists():
                raise DomainError(
                    f"Invalid 'input[{index}].content[{part_index}].file_id': file '{file_id}' not found.",
                    param=f"input[{index}].content[{part_index}].file_id",
                    code="invalid_value",
                )


def _earlier_items(project: Project, params: ResponseParams, thread: Thread | None) -> list[dict[str, Any]]:
    if thread is not None:
        return conversation_items.history(thread)
    if params.previous_response_id:
        previous = Response.objects.filter(
            project=project, pk=params.previous_response_id, store=True
        ).first()
        if previous is None:
            raise DomainError(
                f"Previous response with id '{params.previous_response_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        if not previous.is_terminal:
            raise DomainError(
                f"Previous response with id '{previous.id}' is still {previous.status}.",
                param="previous_response_id",
            )
        return [item for step in chain(previous) for item in step.input + step.output]
    return []


def create_response(project: Project, params: ResponseParams) -> Response:
    if params.previous_response_id and params.conversation_id:
        raise DomainError(
            "Mutually exclusive parameters: Ensure you are only providing one of: "
            "'previous_response_id' or 'conversation'.",
            code="mutually_exclusive_parameters",
        )
    if params.background and not params.store:
        raise DomainError("Background responses require store=true.", param="store")
    thread = get_conversation(project, params.conversation_id) if params.conversation_id else None
    if thread is not None:
        require_idle(thread)
    params.input = _resolve_references(project, params.input)
    _check_files(project, params.input)
    _check_call_outputs(params.input, _earlier_items(project, params, thread))
    now = timezone.now()
    response = Response(
        project=project,
        created_at=now,
        conversation=thread,
        previous_response_id=params.previous_response_id,
        status="queued",
        background=params.background,
        store=params.store,
        model=params.model,
        instructions=params.instructions,
        input=params.input,
        tools=params.tools,
        tool_choice=params.tool_choice,
        parallel_tool_calls=params.parallel_tool_calls,
        max_tool_calls=params.max_tool_calls,
        max_output_tokens=params.max_output_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        text=params.text,
        reasoning=params.reasoning,
        truncation=params.truncation,
        metadata=params.metadata,
        user=params.user,
        safety_identifier=params.safety_identifier,
        heartbeat_at=now,
    )
    with transaction.atomic():
        if thread is not None:
            # Locks the thread, so two requests cannot both find it idle.
            Thread.objects.select_for_update().filter(pk=thread.pk).first()
            require_idle(thread)
        response.save(force_insert=True)
        if thread is not None:
            conversation_items.append(thread, params.input, response.id)
        # In Redis before the task is sent; Redis away: Unavailable rolls all of it back.
        stream.publish_now(response.id, opening_events(response))
    try:
        lifecycle.enqueue(response)
    except Unavailable:
        if lifecycle.finish(
            response,
            "failed",
            from_statuses=("queued",),
            error=lifecycle.error_object("server_error", "The response could not be queued."),
        ):
            with contextlib.suppress(Unavailable):
                stream.publish_now(response.id, [], end=True)
        raise
    return response


def opening_events(response: Response) -> list[tuple[str, Any]]:
    if response.background:
        data = response_object(response)
        return [
            ("response.created", {"type": "response.created", "sequence_number": 0, "response": data}),
            ("response.queued", {"type": "response.queued", "sequence_number": 1, "response": data}),
        ]
    # A foreground response is in progress from the caller's point of view, as OpenAI shows it.
    data = response_object(response, status="in_progress")
    return [("response.created", {"type": "response.created", "sequence_number": 0, "response": data})]


def delete_response(project: Project, response_id: str) -> None:
    response = get_response(project, response_id)
    if not response.is_terminal:
        with contextlib.suppress(DomainError, Unavailable):
            cancel_response(project, response_id)
    Response.objects.filter(pk=response.pk).delete()


def cancel_response(project: Project, response_id: str) -> Response:
    response = get_response(project, response_id)
    if not response.background:
        raise DomainError("Only responses created with background=true can be cancelled.")
    if response.status == "queued":
        if lifecycle.finish(response, "cancelled", from_statuses=("queued",)):
            # No worker holds it: its stream ends here (Responses streams have no cancelled event).
            with contextlib.suppress(Unavailable):
                stream.publish_now(response.id, [], end=True)
            return response
        response.refresh_from_db()
    if response.status == "in_progress":
        if Response.objects.filter(pk=response.pk, status="in_progress").update(status="cancelling"):
            # Redis away: the worker still sees `cancelling` at its next heartbeat.
            with contextlib.suppress(Unavailable):
                stream.request_cancel(response.id)
        response.refresh_from_db()
    if response.status == "cancelling":
        # Shown as OpenAI shows it until the worker stops: still in progress.
        response.status = "in_progress"
        return response
    if response.status == "cancelled":
        return response
    raise DomainError(f"Cannot cancel a response with status '{response.status}'.")


def input_items(project: Project, response_id: str) -> list[dict[str, Any]]:
    """What the model was given for this response besides instructions, oldest first."""
    response = get_response(project, response_id)
    return history(response) + response.input


def count_input_tokens(project: Project, params: ResponseParams) -> int:
    from console.engine.response_prompt import chat_messages

    thread = get_conversation(project, params.conversation_id) if params.conversation_id else None
    items = _earlier_items(project, params, thread) + params.input
    head = [{"role": "system", "content": params.instructions}] if params.instructions else []
    return sum(tokens.count_message(m) for m in head + chat_messages(items))
