"""Runs as the API sees them: create, list, modify, cancel, submit tool outputs, and the reaper."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from console.assistants.services import get_assistant
from console.conversations.services import require_idle
from console.core.errors import DomainError, NotFound, Unavailable
from console.core.requeue import requeue_lost
from console.events import stream
from console.payloads.objects import run_object, step_object
from console.projects.models import Project
from console.runs import lifecycle
from console.runs.models import ACTIVE_STATUSES, Run, RunStep
from console.threads import services as threads
from console.threads.models import Thread

log = logging.getLogger(__name__)


@dataclass
class RunParams:
    """Per-run overrides; None means "as the assistant says"."""

    assistant_id: str
    model: str | None = None
    instructions: str | None = None
    additional_instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    metadata: dict[str, str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: dict[str, Any] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    response_format: Any = None
    reasoning_effort: str | None = None


def active_run(thread: Thread) -> Run | None:
    return Run.objects.filter(thread=thread, status__in=ACTIVE_STATUSES).only("pk").first()


def _check_tool_choice(params: RunParams, tools: list[dict[str, Any]]) -> None:
    choice = params.tool_choice
    if not isinstance(choice, dict):
        return
    if choice["type"] == "function":
        name = (choice.get("function") or {}).get("name")
        names = {t["function"]["name"] for t in tools if t["type"] == "function"}
        if name not in names:
            raise DomainError(
                f"Invalid 'tool_choice': no function named '{name}' among the run's tools.",
                param="tool_choice",
            )
    elif not any(t["type"] == choice["type"] for t in tools):
        raise DomainError(
            f"Invalid 'tool_choice': the run has no {choice['type']} tool.", param="tool_choice"
        )


def _check_stores(project: Project, thread: Thread, assistant: Any) -> None:
    """A run cannot search an expired vector store (OpenAI refused those runs too)."""
    from console.vector_stores.services import require_usable

    for owner, param in ((assistant, "assistant_id"), (thread, "thread_id")):
        ids = (owner.tool_resources.get("file_search") or {}).get("vector_store_ids", [])
        if ids:
            require_usable(project, ids, param)


def _new_run(project: Project, thread: Thread, params: RunParams) -> Run:
    assistant = get_assistant(project, params.assistant_id)
    tools = params.tools if params.tools is not None else assistant.tools
    _check_tool_choice(params, tools)
    if any(tool["type"] == "file_search" for tool in tools):
        _check_stores(project, thread, assistant)
    now = timezone.now()
    return Run(
        project=project,
        thread=thread,
        created_at=now,
        assistant_id=assistant.id,
        status="queued",
        model=params.model or assistant.model,
        instructions=params.instructions
        if params.instructions is not None
        else (assistant.instructions or ""),
        additional_instructions=params.additional_instructions,
        tools=tools,
        metadata=params.metadata or {},
        temperature=params.temperature if params.temperature is not None else assistant.temperature,
        top_p=params.top_p if params.top_p is not None else assistant.top_p,
        max_prompt_tokens=params.max_prompt_tokens,
        max_completion_tokens=params.max_completion_tokens,
        truncation_strategy=params.truncation_strategy or {"type": "auto", "last_messages": None},
        tool_choice=params.tool_choice if params.tool_choice is not None else "auto",
        parallel_tool_calls=True if params.parallel_tool_calls is None else params.parallel_tool_calls,
        response_format=params.response_format
        if params.response_format is not None
        else (assistant.response_format or "auto"),
        reasoning_effort=params.reasoning_effort or assistant.reasoning_effort,
        expires_at=now + lifecycle.RUN_EXPIRY,
    )


def _save_queued(run: Run, thread: Thread) -> None:
    try:
        with transaction.atomic():
            run.save(force_insert=True)
    except IntegrityError:
        existing = active_run(thread)
        raise DomainError(
            f"Thread {thread.id} already has an active run {existing.pk if existing else ''}.".replace(
                " .", "."
            )
        ) from None


def create_run(
    project: Project, thread_id: str, params: RunParams, additional_messages: list[threads.NewMessage]
) -> Run:
    thread = threads.get_thread(project, thread_id)
    # A response working on this thread (as a conversation) counts as an active run.
    require_idle(thread)
    run = _new_run(project, thread, params)
    with transaction.atomic():
        for message in additional_messages:
            threads.create_message(project, thread.id, message)
        _save_queued(run, thread)
        # Redis away: Unavailable rolls all of it back, and nothing is created.
        lifecycle.announce_created(run)
    _send(run)
    return run


def _send(run: Run) -> None:
    """Queues a committed run; if the queue went away meanwhile, the run fails at once (Unavailable)."""
    try:
        lifecycle.enqueue(run)
    except Unavailable:
        lifecycle.fail_unqueued(run)
        raise


def create_thread_and_run(
    project: Project,
    params: RunParams,
    *,
    messages: list[threads.NewMessage],
    tool_resources: dict[str, Any],
    metadata: dict[str, str],
) -> tuple[Thread, Run]:
    get_assistant(project, params.assistant_id)  # 404 before anything is created
    with transaction.atomic():
        thread = threads.create_thread(
            project, messages=messages, tool_resources=tool_resources, metadata=metadata
        )
        run = _new_run(project, thread, params)
        _save_queued(run, thread)
        lifecycle.announce_created(run, thread)
    _send(run)
    return thread, run


def list_runs(project: Project, thread_id: str) -> QuerySet[Run]:
    return Run.objects.filter(thread=threads.get_thread(project, thread_id))


def get_run(project: Project, thread_id: str, run_id: str) -> Run:
    thread = threads.get_thread(project, thread_id)
    run = Run.objects.filter(thread=thread, pk=run_id).first()
    if run is None:
        raise NotFound("run", run_id)
    return run


def update_run(project: Project, thread_id: str, run_id: str, metadata: dict[str, str] | None) -> Run:
    run = get_run(project, thread_id, run_id)
    Run.objects.filter(pk=run.pk).update(metadata=metadata or {})
    run.refresh_from_db()
    return run


def cancel_run(project: Project, thread_id: str, run_id: str) -> Run:
    run = get_run(project, thread_id, run_id)
    if run.status in ("queued", "requires_action"):
        # No worker holds it: it ends at once.
        if lifecycle.finish(run, "cancelled", from_statuses=("queued", "requires_action")):
            return run
        run.refresh_from_db()
    if run.status == "in_progress":
        if Run.objects.filter(pk=run.pk, status="in_progress").update(status="cancelling"):
            run.refresh_from_db()
            # Redis away: the worker still sees `cancelling` in the database at its next heartbeat.
            with contextlib.suppress(Unavailable):
                stream.publish_now(run.id, [("thread.run.cancelling", run_object(run))])
                stream.request_cancel(run.id)
            return run
        run.refresh_from_db()
    if run.status == "cancelling":
        return run
    raise DomainError(f"Cannot cancel run with status '{run.status}'.", param=None)


def submit_tool_outputs(project: Project, thread_id: str, run_id: str, outputs: list[tuple[str, str]]) -> Run:
    run = get_run(project, thread_id, run_id)
    if run.status != "requires_action" or not run.required_action:
        raise DomainError(f'Runs in status "{run.status}" do not accept tool outputs.', param=None)
    expected = [call["id"] for call in run.required_action["submit_tool_outputs"]["tool_calls"]]
    given = dict(outputs)
    unknown = [call_id for call_id, _ in outputs if call_id not in expected]
    if unknown:
        raise DomainError(
            f"Invalid tool_call_id: {unknown[0]}. No tool call with this id is awaiting output.",
            param="tool_outputs",
        )
    missing = [call_id for call_id in expected if call_id not in given]
    if missing:
        raise DomainError(
            f"Expected tool outputs for call_ids {expected}, got {list(given)}. Missing: {missing}.",
            param="tool_outputs",
        )
    with transaction.atomic():
        # heartbeat_at of a queued run: when it was last enqueued (the sweeper's clock).
        if not Run.objects.filter(pk=run.pk, status="requires_action").update(
            status="queued", required_action=None, heartbeat_at=timezone.now()
        ):
            raise DomainError("The run is no longer waiting for tool outputs.")
        step = (
            RunStep.objects.filter(run=run, type="tool_calls", status="in_progress")
            .order_by("-created_at")
            .first()
        )
        if step is not None:
            for call in step.step_details["tool_calls"]:
                if call["type"] == "function" and call["id"] in given:
                    call["function"]["output"] = given[call["id"]]
            step.status = "completed"
            step.completed_at = timezone.now()
            step.save()
        run.refresh_from_db()
        events = ([("thread.run.step.completed", step_object(step))] if step else []) + [
            ("thread.run.queued", run_object(run))
        ]
        # Before the continuation is sent, so its events come after these; Redis away: rolled back.
        stream.publish_now(run.id, events)
    _send(run)
    return run


def list_steps(project: Project, thread_id: str, run_id: str) -> QuerySet[RunStep]:
    return RunStep.objects.filter(run=get_run(project, thread_id, run_id))


def get_step(project: Project, thread_id: str, run_id: str, step_id: str) -> RunStep:
    step = RunStep.objects.filter(run=get_run(project, thread_id, run_id), pk=step_id).first()
    if step is None:
        raise NotFound("run step", step_id)
    return step


def reap_runs(*, reap_dead: bool = True) -> dict[str, int]:
    """Ends or restarts what nobody is doing; beat's reaper thread runs it every RUN_REAPER_INTERVAL
    seconds (console/runs/sweeper.py). reap_dead=False skips the dead runs (after a database outage).

    - dead: a worker heartbeats every RUN_HEARTBEAT_SECONDS; a run whose heartbeat is older than
      RUN_HEARTBEAT_TIMEOUT is failed (or cancelled, if it was being cancelled), keeping the text it
      streamed (persisted every RUN_PARTIAL_SAVE_SECONDS) in its message, marked incomplete.
    - requeued: a queued run not enqueued for RUN_REQUEUE_AFTER seconds (its task vanished with a
      Redis that lost its data, say) is enqueued again; the claim makes a duplicate task a no-op.
    - expired: runs left queued or waiting for tool outputs past expires_at.
    """
    now = timezone.now()
    counts = {"dead": 0, "requeued": 0, "expired": 0}
    stale = now - timedelta(seconds=settings.RUN_HEARTBEAT_TIMEOUT)
    dead = Run.objects.filter(status__in=lifecycle.WORKING, heartbeat_at__lt=stale)
    for run in dead if reap_dead else ():
        lifecycle.cancel_or_fail(
            run,
            "server_error",
            f"The worker executing this run stopped responding (no heartbeat for {settings.RUN_HEARTBEAT_TIMEOUT:g} s).",
        )
        counts["dead"] += 1
    for run in Run.objects.filter(status__in=("queued", "requires_action"), expires_at__lt=now):
        if lifecycle.finish(run, "expired", from_statuses=("queued", "requires_action")):
            counts["expired"] += 1
    counts["requeued"] = requeue_lost(Run, lifecycle.EXECUTE_RUN_TASK, now)
    return counts
