"""A response: one model answer to input items, executed like a run (queue, claim, heartbeat, reaper)."""

from __future__ import annotations

from django.db import models

from console.core.models import ApiObject
from console.projects.models import Project
from console.threads.models import Thread

ACTIVE_STATUSES = ("queued", "in_progress", "cancelling")
TERMINAL_STATUSES = ("completed", "failed", "cancelled", "incomplete")
WORKING = ("in_progress", "cancelling")


def auto() -> str:
    return "auto"


class Response(ApiObject):
    id_prefix = "resp_"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="responses")
    # The thread the response reads and extends; a deleted conversation leaves its responses.
    conversation = models.ForeignKey(Thread, on_delete=models.SET_NULL, null=True, related_name="responses")
    previous_response_id = models.CharField(max_length=64, null=True)
    status = models.CharField(max_length=20, default="queued")
    background = models.BooleanField(default=False)
    store = models.BooleanField(default=True)
    model = models.CharField(max_length=256)
    instructions = models.TextField(null=True)
    # The input items as given (normalised, each with its id), and what the model produced.
    input = models.JSONField(default=list)
    output = models.JSONField(default=list)
    tools = models.JSONField(default=list)
    tool_choice = models.JSONField(default=auto)
    parallel_tool_calls = models.BooleanField(default=True)
    max_tool_calls = models.IntegerField(null=True)
    max_output_tokens = models.IntegerField(null=True)
    temperature = models.FloatField(null=True)
    top_p = models.FloatField(null=True)
    text = models.JSONField(default=dict)
    reasoning = models.JSONField(null=True)
    truncation = models.CharField(max_length=16, default="disabled")
    metadata = models.JSONField(default=dict)
    user = models.CharField(max_length=256, null=True)
    safety_identifier = models.CharField(max_length=64, null=True)
    usage = models.JSONField(null=True)
    error = models.JSONField(null=True)
    incomplete_details = models.JSONField(null=True)
    completed_at = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    # As a run's: the worker's liveness (the reaper fails a response whose heartbeat stops), and,
    # while queued, when it was last enqueued (the sweeper's clock).
    heartbeat_at = models.DateTimeField(null=True)
    attempts = models.IntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["project", "created_at", "id"], name="resp_page"),
            models.Index(fields=["status", "heartbeat_at"], name="resp_status"),
            models.Index(fields=["conversation", "status"], name="resp_conversation"),
        ]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES
