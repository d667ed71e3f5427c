"""Bearer API keys. Every /v1 request resolves to exactly one project."""

from __future__ import annotations

from django.http import HttpRequest

from console.api.errors import ApiError
from console.projects.models import Project
from console.projects.services import project_for_key, redact

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
    project = project_for_key(raw_key)
    if project is None:
        raise ApiError(401, f"Incorrect API key provided: {redact(raw_key)}.", code="invalid_api_key")
    return project
