"""Cleanup: threads idle for too long, files attached to nothing, vector stores nobody uses.

Plain functions over the domain models; the API exposes the lists as extensions (docs/api.md), the
console's Cleanup page deletes through the API, and beat applies each project's thread retention
(console.web.tasks.apply_retention, which records every deletion in the audit log).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from console.assistants.models import Assistant
from console.files.models import File
from console.projects.models import Project
from console.threads.models import Message, Thread
from console.vector_stores.models import VectorStore, VectorStoreFile

RETENTION_BATCH = 500


def idle_threads(project: Project, days: int, now: datetime | None = None) -> QuerySet[Thread]:
    """Threads with no message or run added for `days` days (Thread.last_activity_at)."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return Thread.objects.filter(project=project, last_activity_at__lt=cutoff)


def delete_idle_threads(project: Project, days: int, limit: int = RETENTION_BATCH) -> list[str]:
    """Deletes up to `limit` idle threads (oldest activity first) and returns their ids."""
    ids = list(
        idle_threads(project, days).order_by("last_activity_at", "id").values_list("pk", flat=True)[:limit]
    )
    if ids:
        # Messages, runs and steps cascade with their thread.
        Thread.objects.filter(project=project, pk__in=ids).delete()
    return ids


def _ids(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _resource_ids(tool_resources: dict[str, Any] | None, tool: str, key: str) -> list[str]:
    return _ids(((tool_resources or {}).get(tool) or {}).get(key))


def _message_file_ids(content: Iterable[dict[str, Any]], attachments: Iterable[dict[str, Any]]) -> set[str]:
    found = {str(a.get("file_id")) for a in attachments or [] if a.get("file_id")}
    for part in content or []:
        if part.get("type") == "image_file":
            found.add(str((part.get("image_file") or {}).get("file_id")))
        for annotation in (part.get("text") or {}).get("annotations") or []:
            body = annotation.get(annotation.get("type", "")) or {}
            if body.get("file_id"):
                found.add(str(body["file_id"]))
    return found


def used_file_ids(project: Project) -> set[str]:
    """Files something refers to: a vector store, an assistant's or thread's code interpreter, a message."""
    used = set(VectorStoreFile.objects.filter(store__project=project).values_list("file_id", flat=True))
    for resources in Assistant.objects.filter(project=project).values_list("tool_resources", flat=True):
        used.update(_resource_ids(resources, "code_interpreter", "file_ids"))
    for resources in Thread.objects.filter(project=project).values_list("tool_resources", flat=True):
        used.update(_resource_ids(resources, "code_interpreter", "file_ids"))
    messages = Message.objects.filter(thread__project=project).values_list("content", "attachments")
    for content, attachments in messages.iterator(chunk_size=2000):
        used.update(_message_file_ids(content, attachments))
    return used


def unattached_files(project: Project) -> QuerySet[File]:
    return File.objects.filter(project=project).exclude(pk__in=used_file_ids(project))


def used_vector_store_ids(project: Project) -> set[str]:
    used: set[str] = set()
    for model in (Assistant, Thread):
        for resources in model.objects.filter(project=project).values_list("tool_resources", flat=True):  # type: ignore[attr-defined]
            used.update(_resource_ids(resources, "file_search", "vector_store_ids"))
    return used


def unused_vector_stores(project: Project) -> QuerySet[VectorStore]:
    return VectorStore.objects.filter(project=project).exclude(pk__in=used_vector_store_ids(project))
