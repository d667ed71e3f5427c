"""Watching the vector store file batches the console started, so their pages need no open tab."""

from __future__ import annotations

from django.utils import timezone

from console.web.models import BatchWatch
from console.web.upstream import UpstreamError, client_for

TERMINAL = ("completed", "cancelled", "failed")


def refresh(watch: BatchWatch) -> BatchWatch:
    """Reads the batch from the upstream once and records its counts. Upstream errors are kept, not raised."""
    try:
        with client_for(watch.project) as client:
            batch = client.get(f"vector_stores/{watch.vector_store_id}/file_batches/{watch.batch_id}")
    except UpstreamError as exc:
        if exc.not_found:
            watch.status, watch.finished_at = "failed", timezone.now()
        watch.last_error = exc.message
        watch.updated_at = timezone.now()
        watch.save()
        return watch
    counts = batch.get("file_counts") or {}
    watch.status = batch["status"]
    watch.in_progress = counts.get("in_progress", 0)
    watch.completed = counts.get("completed", 0)
    watch.failed = counts.get("failed", 0)
    watch.cancelled = counts.get("cancelled", 0)
    watch.total = counts.get("total", 0)
    watch.last_error = ""
    watch.updated_at = timezone.now()
    if watch.status in TERMINAL and watch.finished_at is None:
        watch.finished_at = timezone.now()
    watch.save()
    return watch
