"""Assistants. Values arrive validated and normalised to the API's shape."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from console.assistants.models import Assistant
from console.core.errors import NotFound
from console.files.services import require_tool_resource_files
from console.projects.models import Project
from console.vector_stores import services as vector_stores

EDITABLE_FIELDS = (
    "model",
    "name",
    "description",
    "instructions",
    "reasoning_effort",
    "tools",
    "tool_resources",
    "metadata",
    "temperature",
    "top_p",
    "response_format",
)
DEFAULTS: dict[str, Any] = {"temperature": 1.0, "top_p": 1.0, "response_format": "auto"}


def list_assistants(project: Project) -> QuerySet[Assistant]:
    return Assistant.objects.filter(project=project)


def get_assistant(project: Project, assistant_id: str) -> Assistant:
    assistant = Assistant.objects.filter(project=project, pk=assistant_id).first()
    if assistant is None:
        raise NotFound("assistant", assistant_id)
    return assistant


def create_assistant(project: Project, fields: dict[str, Any]) -> Assistant:
    values = {**DEFAULTS, **{k: v for k, v in fields.items() if v is not None}}
    values.setdefault("tools", [])
    values.setdefault("tool_resources", {})
    values.setdefault("metadata", {})
    require_tool_resource_files(project, values["tool_resources"])
    with transaction.atomic():
        values["tool_resources"] = vector_stores.resolve_tool_resources(project, values["tool_resources"])
        return Assistant.objects.create(project=project, **values)


def update_assistant(project: Project, assistant_id: str, changes: dict[str, Any]) -> Assistant:
    assistant = get_assistant(project, assistant_id)
    if "tool_resources" in changes:
        changes["tool_resources"] = changes["tool_resources"] or {}
        require_tool_resource_files(project, changes["tool_resources"])
        changes["tool_resources"] = vector_stores.resolve_tool_resources(project, changes["tool_resources"])
    for field in ("metadata", "tools"):
        if field in changes and changes[field] is None:
            changes[field] = {} if field == "metadata" else []
    for field, value in changes.items():
        if field == "model" and value is None:
            continue
        if field in DEFAULTS and value is None:
            value = DEFAULTS[field]
        setattr(assistant, field, value)
    assistant.save()
    return assistant


def delete_assistant(project: Project, assistant_id: str) -> None:
    get_assistant(project, assistant_id).delete()
