from __future__ import annotations

from django.db import models
from django.utils import timezone


class ForwardedUsage(models.Model):
    """The tokens one forwarded /v1 request used, as the provider's response reported them."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    path = models.CharField(max_length=200)  # e.g. "/v1/chat/completions"
    model = models.CharField(max_length=256, blank=True, default="")
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["project", "created_at"])]
