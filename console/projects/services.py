"""Projects and their API keys."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from console.events import counters
from console.projects.models import ApiKey, Project

KEY_PREFIX = "sk-proj-"
# Writing last_used_at on every request would turn reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Each process remembers a valid key for a few seconds, saving a query per request. A cached key is
# trusted only while the shared key generation (console/events/counters.py), bumped by every revoke
# or delete of a key or project, is the one it was cached under: a deleted key stops working at once
# in every process. With Redis away nothing is cached, and every request asks the database.
KEY_CACHE_SECONDS = 5.0
KEY_CACHE_MAX = 10_000
_key_cache: dict[str, tuple[float, int, Project]] = {}
# A project delete raced by requests still creating objects in it is tried again this many times.
DELETE_ATTEMPTS = 5


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


def cached_project_for_key(raw_key: str) -> Project | None:
    """The key's project if this process checked the key moments ago and no key was deleted since."""
    cached = _key_cache.get(hash_key(raw_key))
    if cached is None or cached[0] <= time.monotonic():
        return None
    return cached[2] if cached[1] == counters.key_generation() else None


def project_for_key(raw_key: str) -> Project | None:
    cached = cached_project_for_key(raw_key)
    if cached is not None:
        return cached
    digest = hash_key(raw_key)
    now = time.monotonic()
    generation = counters.key_generation()
    key = ApiKey.objects.select_related("project").filter(key_hash=digest, revoked_at__isnull=True).first()
    if key is None:
        return None
    stamp = timezone.now()
    if key.last_used_at is None or stamp - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=stamp)
    if generation is not None:
        if len(_key_cache) > KEY_CACHE_MAX:
            _key_cache.clear()
        _key_cache[digest] = (now + KEY_CACHE_SECONDS, generation, key.project)
    return key.project


def project_exists(project_id: int) -> bool:
    return Project.objects.filter(pk=project_id).exists()


def forget_keys(key_hashes: list[str]) -> None:
    """Stops trusting cached keys: these in this process, and every cached key in the others."""
    for digest in key_hashes:
        _key_cache.pop(digest, None)
    counters.bump_key_generation()


def revoke_api_key(key: ApiKey) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])  # the post_save receiver (apps.py) forgets it everywhere


def delete_project(project: Project) -> None:
    """Deletes a project with everything in it, even while requests with its keys are still arriving.

    Its keys are revoked first (committed, and forgotten by every process), so no new request gets
    in; a request already past authentication may still create an object in the project while the
    cascade runs, which fails the delete's foreign-key check; the delete is then tried again.
    """
    ApiKey.objects.filter(project=project, revoked_at__isnull=True).update(revoked_at=timezone.now())
    forget_keys(list(ApiKey.objects.filter(project=project).values_list("key_hash", flat=True)))
    for attempt in range(DELETE_ATTEMPTS):
        try:
            with transaction.atomic():
                Project.objects.filter(pk=project.pk).delete()
            return
        except IntegrityError:
            if attempt == DELETE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
