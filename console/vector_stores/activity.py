"""File batches across a whole project, for the console's Activity page (GET /v1/file_batches)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from console.projects.models import Project
from console.vector_stores.models import FileBatch, VectorStoreFile


def list_project_batches(project: Project, *, in_progress_only: bool = False) -> QuerySet[FileBatch]:
    batches = FileBatch.objects.filter(store__project=project).select_related("store")
    if in_progress_only:
        # A batch is in progress while neither cancelled nor failed and one of its files still is.
        pending = VectorStoreFile.objects.filter(batch=OuterRef("pk"), status="in_progress")
        batches = batches.exclude(status__in=("cancelled", "failed")).filter(Exists(pending))
    return batches
