"""Vector stores, the files attached to them, and file batches.

File counts, usage and the in_progress/completed status of stores and batches are derived from
the file rows when read: many ingestion tasks finish at once, and a denormalised counter written
by each of them could be overwritten with a stale value.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from console.core.models import ApiObject
from console.files.models import File
from console.projects.models import Project

FILE_STATUSES = ("in_progress", "completed", "cancelled", "failed")
AUTO_CHUNKING: dict[str, Any] = {
    "type": "static",
    "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
}


class VectorStore(ApiObject):
    id_prefix = "vs_"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="vector_stores")
    name = models.CharField(max_length=256, default="")
    description = models.TextField(null=True)
    metadata = models.JSONField(default=dict)
    # "expired" once expires_at has passed; otherwise "completed", and in_progress is derived from the files.
    status = models.CharField(max_length=16, default="completed")
    last_active_at = models.DateTimeField(default=timezone.now)
    # {"anchor": "last_active_at", "days": n}, or null for a store that never expires.
    expires_after = models.JSONField(null=True)
    expires_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "created_at", "id"], name="vs_page"),
            models.Index(fields=["status", "expires_at"], name="vs_expiry"),
        ]

    def is_expired(self) -> bool:
        return self.status == "expired" or (self.expires_at is not None and self.expires_at <= timezone.now())


class FileBatch(ApiObject):
    id_prefix = "vsfb_"

    store = models.ForeignKey(VectorStore, on_delete=models.CASCADE, related_name="batches")
    # "cancelled" once cancelled; otherwise in_progress/completed is derived from its files.
    status = models.CharField(max_length=16, default="in_progress")

    class Meta:
        indexes = [models.Index(fields=["store", "created_at", "id"], name="vsfb_page")]


class VectorStoreFile(models.Model):
    """A File attached to a store. Its public id is the file's id, so the row is keyed by (store, file)."""

    store = models.ForeignKey(VectorStore, on_delete=models.CASCADE, related_name="files")
    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="vector_store_files")
    batch = models.ForeignKey(FileBatch, on_delete=models.SET_NULL, null=True, related_name="files")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, default="in_progress")
    # {"code": "server_error" | "unsupported_file" | "invalid_file", "message": str}
    last_error = models.JSONField(null=True)
    usage_bytes = models.BigIntegerField(default=0)
    chunking_strategy = models.JSONField(default=dict)
    attributes = models.JSONField(default=dict)
    # Set by the worker that claims the ingestion; a redelivered task may reclaim a stale one.
    claimed_at = models.DateTimeField(null=True)
    # Refreshed while a worker ingests the file; a claim whose worker stopped refreshing it is stale.
    alive_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "file"], name="vsf_unique")]
        indexes = [
            models.Index(fields=["store", "created_at", "file"], name="vsf_page"),
            models.Index(fields=["batch", "created_at", "file"], name="vsf_batch_page"),
            models.Index(fields=["status", "claimed_at"], name="vsf_pending"),
        ]
