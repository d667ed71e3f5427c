"""Celery watch tasks: thin wrappers that take ids and call console.web.batches."""

from __future__ import annotations

from celery import shared_task

from console.web import batches
from console.web.models import BatchWatch

POLL_SECONDS = 1.0
# A batch of hundreds of files can take a while; give up watching after about 6 hours.
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
