from __future__ import annotations

from django.db import models
from django.utils import timezone


class Project(models.Model):
    """Every /v1 object and every API key belongs to exactly one project."""

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """Only a SHA-256 of the key is stored; the key itself is shown once, at creation."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, blank=True, default="")
    key_hash = models.CharField(max_length=64, unique=True)
    # The last characters, so people can tell keys apart without seeing them.
    redacted = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.project.name}: {self.redacted}"
