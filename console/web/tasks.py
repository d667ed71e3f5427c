"""Celery watch tasks: thin wrappers that take ids and call console.web.batches and run_watches."""

from __future__ import annotations

from celery import shared_task

from console.web import batches, run_watches
from console.web.models import BatchWatch, RunWatch

POLL_SECONDS = 1.0
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
