"""Projects and their API keys."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import timedelta

from django.utils import timezone

from console.projects.models import ApiKey, Project

KEY_PREFIX = "sk-proj-"
# Writing last_used_at on every request would turn reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Each process remembers a valid key for a few seconds, saving a query per request. A revoked key
# stops working at once in the process that revoked it, and within KEY_CACHE_SECONDS elsewhere.
KEY_CACHE_SECONDS = 5.0
KEY_CACHE_MAX = 10_000
_key_cache: dict[str, tuple[float, Project]] = {}


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
    digest = hash_key(raw_key)
    now = time.monotonic()
    cached = _key_cache.get(digest)
    if cached is not None and cached[0] > now:
        return cached[1]
    key = ApiKey.objects.select_related("project").filter(key_hash=digest, revoked_at__isnull=True).first()
    if key is None:
        return None
    stamp = timezone.now()
    if key.last_used_at is None or stamp - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=stamp)
    if len(_key_cache) > KEY_CACHE_MAX:
        _key_cache.clear()
    _key_cache[digest] = (now + KEY_CACHE_SECONDS, key.project)
    return key.project


def revoke_api_key(key: ApiKey) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    _key_cache.pop(key.key_hash, None)
