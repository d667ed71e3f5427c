"""Applying a project's thread retention: delete what idled too long, and write each deletion to the audit log."""

from __future__ import annotations

from django.db import transaction

from console.cleanup import services as cleanup
from console.web import audit
from console.web.models import ProjectSettings

ACTOR = "retention (beat)"


def apply(row: ProjectSettings) -> list[str]:
    """Deletes the project's idle threads, RETENTION_BATCH at a time, until none is left."""
    days = row.thread_retention_days
    deleted: list[str] = []
    if not days:
        return deleted
    while True:
        with transaction.atomic():
            ids = cleanup.delete_idle_threads(row.project, days)
            for thread_id in ids:
                audit.record_system(
                    row.project,
                    ACTOR,
                    "thread.delete",
                    "thread",
                    thread_id,
                    reason=f"no activity for {days} days",
                )
        deleted.extend(ids)
        if len(ids) < cleanup.RETENTION_BATCH:
            return deleted
