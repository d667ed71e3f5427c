from __future__ import annotations

from django.db import models

from console.core.models import ApiObject
from console.projects.models import Project


class Assistant(ApiObject):
    id_prefix = "asst_"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assistants")
    model = models.CharField(max_length=256)
    name = models.CharField(max_length=256, null=True)
    description = models.CharField(max_length=512, null=True)
    instructions = models.TextField(null=True)
    # Stored already normalised to the response shape (defaults filled in).
    tools = models.JSONField(default=list)
    tool_resources = models.JSONField(default=dict)
    metadata = models.JSONField(default=dict)
    temperature = models.FloatField(null=True)
    top_p = models.FloatField(null=True)
    response_format = models.JSONField(null=True)
    reasoning_effort = models.CharField(max_length=16, null=True)

    class Meta:
        indexes = [models.Index(fields=["project", "created_at", "id"], name="asst_page")]
