"""Watching the runs the console started, so the Jobs page knows how each ended with no tab open."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from console.web.models import RunWatch
from console.web.upstream import UpstreamError, client_for


def _when(ts: int | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts else None


def failure_reason(run: dict[str, Any]) -> str:
    """Why a run did not complete, in words for the Jobs page."""
    error = run.get("last_error") or {}
    if error:
        return f"{error.get('code') or 'error'}: {error.get('message') or ''}".strip()
    incomplete = run.get("incomplete_details") or {}
    if incomplete:
        return f"Incomplete: {incomplete.get('reason') or 'unknown reason'}"
    if run.get("status") == "expired":
        return "The run expired before it finished."
    if run.get("status") == "cancelled":
        return "Cancelled."
    return ""


def record(watch: RunWatch, run: dict[str, Any]) -> RunWatch:
    watch.status = run["status"]
    watch.model = run.get("model") or watch.model
    watch.started_at = _when(run.get("started_at"))
    end = run.get("completed_at") or run.get("failed_at") or run.get("cancelled_at")
    if watch.is_done:
        watch.finished_at = _when(end) or watch.finished_at or timezone.now()
    watch.last_error = failure_reason(run)
    usage = run.get("usage") or {}
    watch.total_tokens = usage.get("total_tokens") if isinstance(usage.get("total_tokens"), int) else None
    watch.updated_at = timezone.now()
    watch.save()
    return watch


def refresh(watch: RunWatch) -> RunWatch:
    """Reads the run from the upstream once and records it. Upstream errors are kept, not raised."""
    try:
        with client_for(watch.project) as client:
            run = client.get(f"threads/{watch.thread_id}/runs/{watch.run_id}")
    except UpstreamError as exc:
        if exc.not_found:
            watch.status, watch.finished_at = "failed", timezone.now()
        watch.last_error = exc.message
        watch.updated_at = timezone.now()
        watch.save()
        return watch
    return record(watch, run)
