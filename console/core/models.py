"""Shared shape of every /v1 object: a public string id, a project, a creation time."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ApiObject(models.Model):
    """Ordered by (created_at, id): created_at has microseconds, id breaks exact ties."""

    id_prefix = ""

    id = models.CharField(primary_key=True, max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not self.id:
            from console.core.ids import new_id

            self.id = new_id(self.id_prefix)
        super().save(*args, **kwargs)

    @property
    def created_at_unix(self) -> int:
        return int(self.created_at.timestamp())


def unix(value) -> int | None:  # type: ignore[no-untyped-def]
    return int(value.timestamp()) if value is not None else None
