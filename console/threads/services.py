"""Threads and their messages. Values arrive validated and normalised to the API's shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Exact
from django.utils import timezone

from console.core.errors import DomainError, NotFound
from console.core.ids import new_id
from console.files.services import require_files, require_tool_resource_files
from console.projects.models import Project
from console.threads.models import Message, Thread
from console.vector_stores import services as vector_stores


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


def _file_search_attachments(messages: list[NewMessage]) -> list[str]:
    """Files attached for file_search go into the thread's vector store."""
    return list(
        dict.fromkeys(
            attachment["file_id"]
            for message in messages
            for attachment in message.attachments
            if any(tool["type"] == "file_search" for tool in attachment.get("tools") or [])
        )
    )


class _TextPartLike(Func):
    """True when one of a message's text parts matches a LIKE pattern, case-insensitively.

    Searches the decoded text values only, never the JSON around them (keys such as "text" or
    "annotations", and \\u escapes), on either backend. SQLite's LIKE folds ASCII letters only.
    """

    output_field = BooleanField()

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, *args: Any, **extra: Any
    ) -> tuple[str, list[Any]]:
        content, pattern = self.get_source_expressions()
        content_sql, content_params = compiler.compile(content)
        pattern_sql, pattern_params = compiler.compile(pattern)
        if connection.vendor == "postgresql":
            sql = (
                f"EXISTS (SELECT 1 FROM jsonb_array_elements({content_sql}) AS part "
                f"WHERE part -> 'text' ->> 'value' ILIKE {pattern_sql})"
            )
        else:
            sql = (
                f"EXISTS (SELECT 1 FROM json_each({content_sql}) AS part "
                f"WHERE json_extract(part.value, '$.text.value') LIKE {pattern_sql} ESCAPE '\\')"
            )
        return sql, [*content_params, *pattern_params]


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def message_text_matches(text: str) -> _TextPartLike:
    """A filter for messages with a text part containing `text`, ignoring case."""
    return _TextPartLike(F("content"), Value(_like_pattern(text)))


def list_threads(
    project: Project,
    metadata: dict[str, str] | None = None,
    *,
    assistant_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    last_activity_before: datetime | None = None,
    text: str | None = None,
) -> QuerySet[Thread]:
    """The project's threads; the keyword filters back the console's thread search (an extension)."""
    threads = Thread.objects.filter(project=project)
    for key, value in (metadata or {}).items():
        # KeyTextTransform takes the key verbatim, so keys containing "__" stay one key. A plain Exact
        # compares text with text: the lookup a transform inherits would decode the value as JSON.
        threads = threads.filter(Exact(KeyTextTransform(key, "metadata"), value))
    if created_after is not None:
        threads = threads.filter(created_at__gte=created_after)
    if created_before is not None:
        threads = threads.filter(created_at__lt=created_before)
    if last_activity_before is not None:
        threads = threads.filter(last_activity_at__lt=last_activity_before)
    if assistant_id:
        from console.runs.models import Run

        threads = threads.filter(
            Q(Exists(Run.objects.filter(thread=OuterRef("pk"), assistant_id=assistant_id)))
            | Q(Exists(Message.objects.filter(thread=OuterRef("pk"), assistant_id=assistant_id)))
        )
    if text:
        threads = threads.filter(
            Exists(Message.objects.filter(thread=OuterRef("pk")).filter(message_text_matches(text)))
        )
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
        tool_resources = vector_stores.resolve_tool_resources(
            project, tool_resources, expires_after=vector_stores.THREAD_STORE_EXPIRY
        )
        tool_resources = vector_stores.attach_to_thread(
            project, tool_resources, _file_search_attachments(messages)
        )
        last = now + timedelta(microseconds=max(0, len(messages) - 1))
        thread = Thread.objects.create(
            project=project,
            created_at=now,
            last_activity_at=last,
            tool_resources=tool_resources,
            metadata=metadata,
        )
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
        require_tool_resource_files(project, changes["tool_resources"] or {})
        thread.tool_resources = vector_stores.resolve_tool_resources(project, changes["tool_resources"] or {})
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
    active = (
        Run.objects.filter(thread=thread, status__in=ACTIVE_STATUSES).values_list("pk", flat=True).first()
    )
    if not active:
        from console.responses.models import ACTIVE_STATUSES as RESPONSE_ACTIVE
        from console.responses.models import Response

        active = (
            Response.objects.filter(conversation=thread, status__in=RESPONSE_ACTIVE)
            .values_list("pk", flat=True)
            .first()
        )
    if active:
        raise DomainError(f"Can't add messages to {thread.id} while a run {active} is active.")
    _check_message_files(project, message, "")
    row = _message_row(thread, message)
    with transaction.atomic():
        resources = vector_stores.attach_to_thread(
            project, thread.tool_resources, _file_search_attachments([message])
        )
        if resources != thread.tool_resources:
            thread.tool_resources = resources
            thread.save(update_fields=["tool_resources"])
        row.save(force_insert=True)
    return row


def update_message(
    project: Project, thread_id: str, message_id: str, metadata: dict[str, str] | None
) -> Message:
    message = get_message(project, thread_id, message_id)
    message.metadata = metadata or {}
    message.save(update_fields=["metadata"])
    return message


def delete_message(project: Project, thread_id: str, message_id: str) -> None:
    get_message(project, thread_id, message_id).delete()
