from __future__ import annotations

from django.db import models

from console.core.models import ApiObject
from console.projects.models import Project
from console.threads.models import Thread

ACTIVE_STATUSES = ("queued", "in_progress", "requires_action", "cancelling")
TERMINAL_STATUSES = ("cancelled", "failed", "completed", "incomplete", "expired")


def auto() -> str:
    return "auto"


class Run(ApiObject):
    id_prefix = "run_"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="runs")
    assistant_id = models.CharField(max_length=64)
    status = models.CharField(max_length=20, default="queued")
    model = models.CharField(max_length=256)
    instructions = models.TextField(default="")
    additional_instructions = models.TextField(null=True)
    tools = models.JSONField(default=list)
    metadata = models.JSONField(default=dict)
    temperature = models.FloatField(null=True)
    top_p = models.FloatField(null=True)
    max_prompt_tokens = models.IntegerField(null=True)
    max_completion_tokens = models.IntegerField(null=True)
    truncation_strategy = models.JSONField(default=dict)
    tool_choice = models.JSONField(default=auto)
    parallel_tool_calls = models.BooleanField(default=True)
    response_format = models.JSONField(default=auto)
    reasoning_effort = models.CharField(max_length=16, null=True)
    required_action = models.JSONField(null=True)
    last_error = models.JSONField(null=True)
    incomplete_details = models.JSONField(null=True)
    usage = models.JSONField(null=True)
    started_at = models.DateTimeField(null=True)
    expires_at = models.DateTimeField(null=True)
    cancelled_at = models.DateTimeField(null=True)
    failed_at = models.DateTimeField(null=True)
    completed_at = models.DateTimeField(null=True)
    # Liveness of the worker holding the run; the reaper fails runs whose heartbeat stops.
    heartbeat_at = models.DateTimeField(null=True)
    attempts = models.IntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["thread", "created_at", "id"], name="run_page"),
            models.Index(fields=["status", "heartbeat_at"], name="run_status"),
        ]
        constraints = [
            # At most one active run per thread, whatever races the application checks miss.
            models.UniqueConstraint(
                fields=["thread"],
                condition=models.Q(status__in=ACTIVE_STATUSES),
                name="one_active_run_per_thread",
            )
        ]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def effective_instructions(self) -> str:
        """What the model is given, and what the Run object shows: the instructions, then the
        run's additional_instructions appended."""
        return "\n\n".join(part for part in (self.instructions, self.additional_instructions) if part)


class RunStep(ApiObject):
    id_prefix = "step_"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    thread_id = models.CharField(max_length=64)
    assistant_id = models.CharField(max_length=64)
    type = models.CharField(max_length=20)
    status = models.CharField(max_length=20, default="in_progress")
    step_details = models.JSONField(default=dict)
    last_error = models.JSONField(null=True)
    usage = models.JSONField(null=True)
    metadata = models.JSONField(default=dict)
    expired_at = models.DateTimeField(null=True)
    cancelled_at = models.DateTimeField(null=True)
    failed_at = models.DateTimeField(null=True)
    completed_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["run", "created_at", "id"], name="step_page")]
