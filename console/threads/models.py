from __future__ import annotations

from django.db import models
from django.utils import timezone

from console.core.models import ApiObject
from console.projects.models import Project


class Thread(ApiObject):
    id_prefix = "thread_"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="threads")
    tool_resources = models.JSONField(default=dict)
    metadata = models.JSONField(default=dict)
    # When a message or run was last added (its creation time if none was): the console's thread list
    # sorts by it and retention reads it. Kept by console.threads.activity, never moved backwards.
    last_activity_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["project", "created_at", "id"], name="thread_page"),
            models.Index(fields=["project", "last_activity_at", "id"], name="thread_activity"),
        ]


class Message(ApiObject):
    id_prefix = "msg_"

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16)
    status = models.CharField(max_length=16, default="completed")
    # Content parts in the response shape: [{"type": "text", "text": {"value", "annotations"}}, ...]
    content = models.JSONField(default=list)
    attachments = models.JSONField(default=list)
    metadata = models.JSONField(default=dict)
    assistant_id = models.CharField(max_length=64, null=True)
    run_id = models.CharField(max_length=64, null=True)
    incomplete_details = models.JSONField(null=True)
    completed_at = models.DateTimeField(null=True)
    incomplete_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["thread", "created_at", "id"], name="msg_page"),
            models.Index(fields=["thread", "run_id"], name="msg_run"),
        ]
