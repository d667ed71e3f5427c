"""Celery tasks of the console: thin wrappers that take ids and call batches, run_watches and retention."""

from __future__ import annotations

from celery import shared_task

from console.web import batches, retention, run_watches, uploads
from console.web.models import BatchWatch, ProjectSettings, RunWatch, UploadSession

POLL_SECONDS = 1.0
# An upload's files are listed by status at each poll: every 2 s is plenty for a progress list.
UPLOAD_POLL_SECONDS = 2.0
# A batch of hundreds of files (or a run waiting on tool outputs) can take a while; give up after ~6 hours.
MAX_POLLS = 6 * 3600


@shared_task(acks_late=True, ignore_result=True)
def watch_file_batch(watch_id: int, polls: int = 0) -> None:
    watch = BatchWatch.objects.filter(pk=watch_id).select_related("project").first()
    if watch is None or watch.is_done:
        return
    watch = batches.refresh(watch)
    if not watch.is_done and polls < MAX_POLLS:
        # Re-enqueue rather than sleep, so a worker slot is free between polls.
        watch_file_batch.apply_async((watch_id, polls + 1), countdown=POLL_SECONDS)


@shared_task(acks_late=True, ignore_result=True)
def watch_run(watch_id: int, polls: int = 0) -> None:
    watch = RunWatch.objects.filter(pk=watch_id).select_related("project").first()
    if watch is None or watch.is_done:
        return
    watch = run_watches.refresh(watch)
    if not watch.is_done and polls < MAX_POLLS:
        watch_run.apply_async((watch_id, polls + 1), countdown=POLL_SECONDS)


@shared_task(acks_late=True, ignore_result=True)
def apply_retention() -> None:
    """Beat: each project's thread retention (ProjectSettings.thread_retention_days)."""
    for row in ProjectSettings.objects.filter(thread_retention_days__isnull=False).select_related("project"):
        retention.apply(row)


@shared_task(acks_late=True, ignore_result=True)
def watch_upload(session_id: int, polls: int = 0) -> None:
    session = UploadSession.objects.filter(pk=session_id).select_related("project").first()
    if session is None or session.is_done:
        return
    session = uploads.refresh(session)
    if not session.is_done and polls < MAX_POLLS:
        watch_upload.apply_async((session_id, polls + 1), countdown=UPLOAD_POLL_SECONDS)
