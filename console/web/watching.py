"""Starting a watch: the row that records progress, and its Celery task once the row is committed.

Kept apart from run_watches and batches (what one poll does), which the tasks module imports.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from console.projects.models import Project
from console.web import audit
from console.web.models import BatchWatch, RunWatch, UploadItem, UploadSession
from console.web.tasks import watch_file_batch, watch_upload
from console.web.tasks import watch_run as watch_run_task
from console.web.upstream import Client


def watch_run(
    project: Project, thread_id: str, run: dict[str, Any], created_by: str, retry_of: str = ""
) -> RunWatch:
    """Records a run the console just created and starts its watch task once the row is committed."""
    with transaction.atomic():
        watch = RunWatch.objects.create(
            project=project,
            thread_id=thread_id,
            run_id=run["id"],
            assistant_id=run.get("assistant_id") or "",
            model=run.get("model") or "",
            status=run.get("status") or "queued",
            created_by=created_by,
            retry_of=retry_of,
        )
        transaction.on_commit(lambda: watch_run_task.delay(watch.pk))
    return watch


def start_upload(project: Project, vector_store_id: str, names: list[str], created_by: str) -> UploadSession:
    """Records every file the browser is about to send, and starts following the session."""
    with transaction.atomic():
        session = UploadSession.objects.create(
            project=project, vector_store_id=vector_store_id, created_by=created_by
        )
        UploadItem.objects.bulk_create(
            [UploadItem(session=session, index=i, name=name[:512]) for i, name in enumerate(names)],
            batch_size=500,
        )
        transaction.on_commit(lambda: watch_upload.delay(session.pk))
    return session


def start_batch(
    request: HttpRequest, project: Project, client: Client, store_id: str, file_ids: list[str]
) -> BatchWatch:
    """Adds the files to the store as one batch, audited and watched to its end."""
    batch = client.post(f"vector_stores/{store_id}/file_batches", {"file_ids": file_ids})
    with transaction.atomic():
        watch = BatchWatch.objects.create(
            project=project,
            vector_store_id=store_id,
            batch_id=batch["id"],
            total=len(file_ids),
            in_progress=len(file_ids),
            created_by=request.user.get_username(),
        )
        audit.record(
            request,
            project,
            "file_batch.create",
            "file_batch",
            batch["id"],
            vector_store_id=store_id,
            files=len(file_ids),
        )
        transaction.on_commit(lambda: watch_file_batch.delay(watch.pk))
    return watch
