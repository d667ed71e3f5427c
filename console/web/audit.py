"""The audit log: every change made through the console, written by the view that made it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from console.projects.models import Project
from console.web.models import AuditLog


def record(
    request: HttpRequest,
    project: Project | None,
    action: str,
    object_type: str = "",
    object_id: str = "",
    **detail: Any,
) -> AuditLog:
    user = request.user if request.user.is_authenticated else None
    return AuditLog.objects.create(
        project=project,
        user=user,
        username=getattr(user, "username", "") or "",
        action=action,
        object_type=object_type,
        object_id=object_id or "",
        detail=detail,
    )


def record_system(
    project: Project | None,
    actor: str,
    action: str,
    object_type: str = "",
    object_id: str = "",
    **detail: Any,
) -> AuditLog:
    """A change nobody clicked: beat's retention, for one. `actor` names what made it."""
    return AuditLog.objects.create(
        project=project,
        user=None,
        username=actor,
        action=action,
        object_type=object_type,
        object_id=object_id or "",
        detail=detail,
    )
