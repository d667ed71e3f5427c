"""Conversations as the API sees them: a conversation is a thread, created, read and extended here."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from console.conversations import items as conversation_items
from console.core.errors import DomainError, NotFound
from console.projects.models import Project
from console.responses.models import ACTIVE_STATUSES as RESPONSE_ACTIVE
from console.responses.models import Response
from console.runs.models import ACTIVE_STATUSES as RUN_ACTIVE
from console.runs.models import Run
from console.threads import services as threads
from console.threads.models import Thread

MAX_ITEMS = 20


def active_work(thread: Thread) -> str | None:
    """The id of the run or response now working on this thread, if any."""
    run = Run.objects.filter(thread=thread, status__in=RUN_ACTIVE).values_list("pk", flat=True).first()
    if run:
        return run
    return (
        Response.objects.filter(conversation=thread, status__in=RESPONSE_ACTIVE)
        .values_list("pk", flat=True)
        .first()
    )


def require_idle(thread: Thread) -> None:
    """Runs and responses on one thread never interleave (OpenAI's runs refused a second active run)."""
    active = active_work(thread)
    if active:
        raise DomainError(f"Thread {thread.id} already has an active run {active}.")


def create_conversation(project: Project, items: list[dict[str, Any]], metadata: dict[str, str]) -> Thread:
    with transaction.atomic():
        thread = threads.create_thread(project, messages=[], tool_resources={}, metadata=metadata)
        conversation_items.append(thread, items)
    return thread


def get_conversation(project: Project, conversation_id: str) -> Thread:
    thread = Thread.objects.filter(project=project, pk=conversation_id).first()
    if thread is None:
        raise NotFound("conversation", conversation_id)
    return thread


def add_items(project: Project, conversation_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    thread = get_conversation(project, conversation_id)
    require_idle(thread)
    conversation_items.append(thread, items)
    return items
