"""Files: bytes in the configured storage (console/files/storage.py), rows in the database.

Deleting a File fires Django's pre_delete for it; vector stores listen (console/vector_stores/apps.py)
and drop the file with its chunks, so this package never reaches into vector stores.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import IO, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from console.core.errors import DomainError, NotFound
from console.core.ids import new_id
from console.files import storage
from console.files.models import File
from console.projects.models import Project


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
    """Stores the upload: local storage moves a spooled temporary file into place, S3 streams it in parts."""
    file_id = new_id("file-")
    storage_name = storage.save(f"files/{project.pk}/{file_id}", source, source_path=source_path, size=size)
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
        storage.delete(storage_name)
        raise


def delete_file(project: Project, file_id: str) -> None:
    file = get_file(project, file_id)
    name = file.storage_name
    with transaction.atomic():
        file.delete()
        transaction.on_commit(lambda: storage.delete(name))


def delete_expired_files(now: datetime | None = None) -> int:
    """Removes files whose expires_after has passed. Returns how many."""
    now = now or timezone.now()
    count = 0
    for file in File.objects.filter(expires_at__lte=now).only("pk", "storage_name"):
        name = file.storage_name
        file.delete()
        storage.delete(name)
        count += 1
    return count
