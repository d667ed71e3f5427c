"""Bearer API keys. Every /v1 request resolves to exactly one project."""

from __future__ import annotations

from django.http import HttpRequest

from console.api import throttle
from console.api.errors import ApiError
from console.projects.models import Project
from console.projects.services import cached_project_for_key, project_exists, project_for_key, redact

MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using "
    "Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)


def authenticate(request: HttpRequest) -> Project:
    header = request.headers.get("Authorization", "")
    scheme, _, raw_key = header.partition(" ")
    raw_key = raw_key.strip()
    if scheme.lower() != "bearer" or not raw_key:
        raise ApiError(401, MISSING_KEY)
    project = cached_project_for_key(raw_key)
    if project is not None:
        return project
    throttle.check(request)
    project = project_for_key(raw_key)
    if project is None:
        throttle.failed(request)
        raise _incorrect_key(raw_key)
    return project


def _incorrect_key(raw_key: str) -> ApiError:
    return ApiError(401, f"Incorrect API key provided: {redact(raw_key)}.", code="invalid_api_key")


def project_gone(request: HttpRequest) -> ApiError | None:
    """The 401 for a request whose key's project was deleted after it authenticated, else None."""
    project = getattr(request, "project", None)
    if project is None:
        return None
    try:
        if project_exists(project.pk):
            return None
    except Exception:  # noqa: BLE001 - the database itself failed: not a deleted project
        return None
    raw_key = request.headers.get("Authorization", "").partition(" ")[2].strip()
    return _incorrect_key(raw_key)
