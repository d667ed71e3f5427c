"""Projects and their API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from console.projects.models import ApiKey, Project

KEY_PREFIX = "sk-proj-"
# Writing last_used_at on every request would turn reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw_key: str) -> str:
    # Keys carry ~286 random bits, so a fast hash is enough; no need for a slow KDF.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def redact(raw_key: str) -> str:
    return f"{raw_key[:8]}****{raw_key[-4:]}"


def get_or_create_project(name: str) -> Project:
    project, _ = Project.objects.get_or_create(name=name)
    return project


def create_api_key(project: Project, name: str = "") -> tuple[ApiKey, str]:
    """Returns the stored key and the raw key, which is never stored."""
    raw = KEY_PREFIX + secrets.token_urlsafe(36)
    key = ApiKey.objects.create(project=project, name=name, key_hash=hash_key(raw), redacted=redact(raw))
    return key, raw


def project_for_key(raw_key: str) -> Project | None:
    key = (
        ApiKey.objects.select_related("project")
        .filter(key_hash=hash_key(raw_key), revoked_at__isnull=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key.project


def revoke_api_key(key: ApiKey) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
