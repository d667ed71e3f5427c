"""Threads and their messages. Values arrive validated and normalised to the API's shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Exact
from django.utils import timezone

from console.core.errors import DomainError, NotFound
from console.core.ids import new_id
from console.files.services import require_files, require_tool_resource_files
from console.projects.models import Project
from console.threads.models import Message, Thread


@dataclass
class NewMessage:
    role: str
    content: list[dict[str, Any]]
    attachments: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)


def _check_message_files(project: Project, message: NewMessage, param: str) -> None:
    require_files(
        project,
        [part["image_file"]["file_id"] for part in message.content if part["type"] == "image_file"],
        f"{param}content",
    )
    require_files(project, [a["file_id"] for a in message.attachments], f"{param}attachments")


def list_threads(project: Project, metadata: dict[str, str] | None = None) -> QuerySet[Thread]:
    threads = Thread.objects.filter(project=project)
    for key, value in (metadata or {}).items():
        # KeyTextTransform takes the key verbatim, so keys containing "__" stay one key. A plain Exact
        # compares text with text: the lookup a transform inherits would decode the value as JSON.
        threads = threads.filter(Exact(KeyTextTransform(key, "metadata"), value))
    return threads


def get_thread(project: Project, thread_id: str) -> Thread:
    thread = Thread.objects.filter(project=project, pk=thread_id).first()
    if thread is None:
        raise NotFound("thread", thread_id)
    return thread


def create_thread(
    project: Project,
    *,
    messages: list[NewMessage],
    tool_resources: dict[str, Any],
    metadata: dict[str, str],
) -> Thread:
    require_tool_resource_files(project, tool_resources)
    for index, message in enumerate(messages):
        _check_message_files(project, message, f"messages[{index}].")
    now = timezone.now()
    with transaction.atomic():
        thread = Thread.objects.create(project=project, created_at=now, tool_resources=tool_resources, metadata=metadata)
        # One microsecond apart, so the initial messages keep their order under (created_at, id).
        Message.objects.bulk_create(
            [
                _message_row(thread, message, created_at=now + timedelta(microseconds=index))
                for index, message in enumerate(messages)
            ]
        )
    return thread


def update_thread(project: Project, thread_id: str, changes: dict[str, Any]) -> Thread:
    thread = get_thread(project, thread_id)
    if "tool_resources" in changes:
        thread.tool_resources = changes["tool_resources"] or {}
        require_tool_resource_files(project, thread.tool_resources)
    if "metadata" in changes:
        thread.metadata = changes["metadata"] or {}
    thread.save()
    return thread


def delete_thread(project: Project, thread_id: str) -> None:
    # Messages (and runs) cascade with the thread.
    get_thread(project, thread_id).delete()


def _message_row(thread: Thread, message: NewMessage, created_at: Any = None) -> Message:
    now = created_at or timezone.now()
    return Message(
        id=new_id("msg_"),
        thread=thread,
        created_at=now,
        role=message.role,
        status="completed",
        content=message.content,
        attachments=message.attachments,
        metadata=message.metadata,
        completed_at=now,
    )


def list_messages(project: Project, thread_id: str, run_id: str | None = None) -> QuerySet[Message]:
    thread = get_thread(project, thread_id)
    messages = Message.objects.filter(thread=thread)
    if run_id:
        messages = messages.filter(run_id=run_id)
    return messages


def get_message(project: Project, thread_id: str, message_id: str) -> Message:
    thread = get_thread(project, thread_id)
    message = Message.objects.filter(thread=thread, pk=message_id).first()
    if message is None:
        raise NotFound("message", message_id)
    return message


def create_message(project: Project, thread_id: str, message: NewMessage) -> Message:
    from console.runs.models import ACTIVE_STATUSES, Run

    thread = get_thread(project, thread_id)
    active = Run.objects.filter(thread=thread, status__in=ACTIVE_STATUSES).values_list("pk", flat=True).first()
    if active:
        raise DomainError(f"Can't add messages to {thread.id} while a run {active} is active.")
    _check_message_files(project, message, "")
    row = _message_row(thread, message)
    row.save(force_insert=True)
    return row


def update_message(project: Project, thread_id: str, message_id: str, metadata: dict[str, str] | None) -> Message:
    message = get_message(project, thread_id, message_id)
    message.metadata = metadata or {}
    message.save(update_fields=["metadata"])
    return message


def delete_message(project: Project, thread_id: str, message_id: str) -> None:
    get_message(project, thread_id, message_id).delete()
