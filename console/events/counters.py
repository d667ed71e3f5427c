"""Small counters in Redis that every web process shares: the API-key generation and failed attempts.

- The key generation is bumped whenever an API key or a project is deleted or revoked. Each process
  caches valid keys for a few seconds (console/projects/services.py) and trusts a cached key only
  while the generation it was cached under is still the current one, so a deletion made in one
  process takes effect in every other at once.
- Failed attempts (wrong API keys, wrong console passwords) are counted per client address in
  fixed windows, so every web process sees the same count (console/api/throttle.py,
  console/web/login_throttle.py decide what to do with it).

Every call here uses the short-timeout request client of console/events/stream.py: when Redis is
away these answer None (generation unknown, nothing counted), and callers fall back to the
database or let the attempt through rather than fail the request.
"""

from __future__ import annotations

import logging

import redis

from console.events import stream

log = logging.getLogger(__name__)

KEY_GENERATION = "auth:keys:generation"
_FAILURES = "auth:failures:{scope}:{who}"


def key_generation() -> int | None:
    """The current generation, or None when Redis cannot say (then nothing cached may be trusted)."""
    try:
        raw = stream._requests_client().get(KEY_GENERATION)
    except (redis.RedisError, OSError):
        return None
    return int(raw or 0)


def bump_key_generation() -> None:
    try:
        stream._requests_client().incr(KEY_GENERATION)
    except (redis.RedisError, OSError) as exc:
        # Other processes then keep a deleted key for at most their cache's lifetime (a few seconds).
        log.warning("could not publish an API key deletion to other processes: %s", exc)


def failures(scope: str, who: str) -> tuple[int, int]:
    """(failed attempts of `who` in the current window, seconds until the window ends); (0, 0) if unknown."""
    key = _FAILURES.format(scope=scope, who=who)
    try:
        pipe = stream._requests_client().pipeline(transaction=False)
        pipe.get(key)
        pipe.ttl(key)
        count, ttl = pipe.execute()
    except (redis.RedisError, OSError):
        return 0, 0
    return int(count or 0), max(int(ttl), 0)


def add_failure(scope: str, who: str, window_seconds: int) -> tuple[int, int]:
    """Counts one failed attempt; returns (attempts in the window, seconds until it ends)."""
    key = _FAILURES.format(scope=scope, who=who)
    try:
        pipe = stream._requests_client().pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, window_seconds, nx=True)
        pipe.ttl(key)
        count, _, ttl = pipe.execute()
    except (redis.RedisError, OSError) as exc:
        log.warning("could not count a failed attempt: %s", exc)
        return 0, 0
    return int(count), max(int(ttl), 0)


def clear_failures(scope: str, who: str) -> None:
    try:
        stream._requests_client().delete(_FAILURES.format(scope=scope, who=who))
    except (redis.RedisError, OSError):
        pass
