from __future__ import annotations

from django.db import models

from console.core.models import ApiObject
from console.projects.models import Project

PURPOSES = ["assistants", "batch", "fine-tune", "vision", "user_data"]


class File(ApiObject):
    id_prefix = "file-"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="files")
    filename = models.CharField(max_length=1024)
    purpose = models.CharField(max_length=32)
    bytes = models.BigIntegerField()
    # Relative to MEDIA_ROOT.
    storage_name = models.CharField(max_length=512)
    expires_at = models.DateTimeField(null=True)
    status = models.CharField(max_length=16, default="processed")

    class Meta:
        indexes = [
            models.Index(fields=["project", "created_at", "id"], name="file_page"),
            models.Index(fields=["project", "purpose", "created_at", "id"], name="file_purpose_page"),
        ]
