"""The brake on guessing API keys: failed attempts are counted per client address in Redis, shared by
every web process; past AUTH_FAILURE_LIMIT failures in AUTH_FAILURE_WINDOW seconds, that address gets
429 with Retry-After until the window ends, without its keys being looked up at all.

Only failures count, and only against the address they came from: a client whose key is valid is
never slowed by someone else's wrong keys (a key this process has just checked skips the brake
altogether). Behind a reverse proxy the address is the one uvicorn takes from X-Forwarded-For
(FORWARDED_ALLOW_IPS); with Redis away, nothing is counted and nothing is refused.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from console.api.errors import ApiError
from console.events import counters

SCOPE = "api-key"


class Throttled(ApiError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            "Too many requests with an incorrect API key from your address. "
            f"Please retry in {retry_after} seconds.",
            code="rate_limit_exceeded",
        )
        self.retry_after = retry_after

    def response(self) -> HttpResponse:
        response = super().response()
        response["Retry-After"] = str(self.retry_after)
        return response


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def check(request: HttpRequest) -> None:
    """Raises Throttled if this address is over its limit of failed attempts."""
    limit = settings.AUTH_FAILURE_LIMIT
    if limit <= 0:
        return
    count, ttl = counters.failures(SCOPE, client_address(request))
    if count >= limit:
        raise Throttled(max(ttl, 1))


def failed(request: HttpRequest) -> None:
    """Counts a failed attempt; raises Throttled if it was the one over the limit."""
    limit = settings.AUTH_FAILURE_LIMIT
    if limit <= 0:
        return
    count, ttl = counters.add_failure(SCOPE, client_address(request), settings.AUTH_FAILURE_WINDOW)
    if count > limit:
        raise Throttled(max(ttl, 1))
