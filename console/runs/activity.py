"""Runs across a whole project, for the console's Activity page (GET /v1/runs, an extension)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from console.projects.models import Project
from console.runs.models import ACTIVE_STATUSES, TERMINAL_STATUSES, Run

STATUSES = (*ACTIVE_STATUSES, *TERMINAL_STATUSES)


def list_project_runs(
    project: Project,
    *,
    statuses: list[str] | None = None,
    assistant_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Run]:
    runs = Run.objects.filter(project=project)
    if statuses:
        runs = runs.filter(status__in=statuses)
    if assistant_id:
        runs = runs.filter(assistant_id=assistant_id)
    if created_after is not None:
        runs = runs.filter(created_at__gte=created_after)
    if created_before is not None:
        runs = runs.filter(created_at__lt=created_before)
    return runs
