"""Files: bytes under MEDIA_ROOT, rows in the database."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from console.core.errors import DomainError, NotFound
from console.core.ids import new_id
from console.files.models import File
from console.projects.models import Project

COPY_CHUNK = 1024 * 1024


def storage_path(storage_name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / storage_name


def get_file(project: Project, file_id: str) -> File:
    file = File.objects.filter(project=project, pk=file_id).first()
    if file is None:
        raise NotFound("file", file_id)
    return file


def list_files(project: Project, purpose: str | None = None) -> QuerySet[File]:
    files = File.objects.filter(project=project)
    return files.filter(purpose=purpose) if purpose else files


def require_files(project: Project, file_ids: Iterable[str], param: str) -> None:
    """Raises a 400 naming the first id that is not one of the project's files."""
    wanted = list(dict.fromkeys(file_ids))
    if not wanted:
        return
    found = set(File.objects.filter(project=project, pk__in=wanted).values_list("pk", flat=True))
    for file_id in wanted:
        if file_id not in found:
            raise DomainError(f"Invalid '{param}': no file found with id '{file_id}'.", param=param)


def require_tool_resource_files(project: Project, tool_resources: dict[str, Any]) -> None:
    """The code_interpreter files named in tool_resources must be the project's."""
    code = tool_resources.get("code_interpreter")
    if code:
        require_files(project, code["file_ids"], "tool_resources.code_interpreter.file_ids")


def create_file(
    project: Project,
    *,
    source: IO[bytes],
    source_path: str | None,
    filename: str,
    purpose: str,
    size: int,
    expires_after_seconds: int | None = None,
) -> File:
    """Stores the upload. A spooled temporary file is moved into place, anything else is copied in chunks."""
    file_id = new_id("file-")
    storage_name = f"files/{project.pk}/{file_id}"
    target = storage_path(storage_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    if source_path and os.path.exists(source_path):
        shutil.move(source_path, target)
    else:
        source.seek(0)
        with open(target, "wb") as out:
            shutil.copyfileobj(source, out, COPY_CHUNK)
    now = timezone.now()
    expires_at: datetime | None = None
    if expires_after_seconds is not None:
        expires_at = now + timedelta(seconds=expires_after_seconds)
    try:
        return File.objects.create(
            id=file_id,
            project=project,
            created_at=now,
            filename=filename,
            purpose=purpose,
            bytes=size,
            storage_name=storage_name,
            expires_at=expires_at,
        )
    except Exception:
        target.unlink(missing_ok=True)
        raise


def _forget_in_vector_stores(file_id: str) -> None:
    """A deleted file leaves every vector store, chunks included."""
    from console.vector_stores.services import forget_file

    forget_file(file_id)


def delete_file(project: Project, file_id: str) -> None:
    file = get_file(project, file_id)
    path = storage_path(file.storage_name)
    with transaction.atomic():
        _forget_in_vector_stores(file.id)
        file.delete()
        transaction.on_commit(lambda: path.unlink(missing_ok=True))


def delete_expired_files(now: datetime | None = None) -> int:
    """Removes files whose expires_after has passed. Returns how many."""
    now = now or timezone.now()
    count = 0
    for file in File.objects.filter(expires_at__lte=now).only("pk", "storage_name"):
        path = storage_path(file.storage_name)
        _forget_in_vector_stores(file.id)
        file.delete()
        path.unlink(missing_ok=True)
        count += 1
    return count


def file_usage(project: Project, file_id: str) -> dict[str, list[str]]:
    """Which of the project's vector stores hold the file, and which assistants use it.

    An assistant uses a file through code_interpreter's file_ids, or through a file_search vector
    store that holds it. Tool resources are JSON, and JSON containment is not portable across the
    databases, so assistants are matched here from their (id, tool_resources) pairs.
    """
    from console.assistants.models import Assistant
    from console.vector_stores.models import VectorStoreFile

    get_file(project, file_id)
    stores = list(
        VectorStoreFile.objects.filter(file_id=file_id, store__project=project)
        .order_by("store__created_at", "store_id")
        .values_list("store_id", flat=True)
    )
    held = set(stores)
    assistants = []
    rows = Assistant.objects.filter(project=project).order_by("created_at", "id").values_list("id", "tool_resources")
    for assistant_id, resources in rows.iterator(chunk_size=2000):
        resources = resources or {}
        code_files = (resources.get("code_interpreter") or {}).get("file_ids") or []
        search_stores = (resources.get("file_search") or {}).get("vector_store_ids") or []
        if file_id in code_files or held.intersection(search_stores):
            assistants.append(assistant_id)
    return {"assistants": assistants, "vector_stores": stores}
