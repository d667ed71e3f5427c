"""The brake on guessing console passwords: after LOGIN_FAILURE_LIMIT failed sign-ins from one address
within LOGIN_FAILURE_WINDOW seconds, sign-ins from that address (the console's and the Django admin's)
are refused with 429 until the window ends. Counted in Redis (console/events/counters.py), so every web
process shares the count; a successful sign-in clears it. Other addresses are never affected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from console.events import counters

SCOPE = "console-login"


def _address(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or "unknown"


def _failed(sender: Any, credentials: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    address = _address(request)
    if address is not None and settings.LOGIN_FAILURE_LIMIT > 0:
        counters.add_failure(SCOPE, address, settings.LOGIN_FAILURE_WINDOW)


def _succeeded(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    address = _address(request)
    if address is not None:
        counters.clear_failures(SCOPE, address)


user_login_failed.connect(_failed, dispatch_uid="console-login-throttle-failed")
user_logged_in.connect(_succeeded, dispatch_uid="console-login-throttle-succeeded")


class LoginThrottleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.paths = {reverse("login"), reverse("admin:login")}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.LOGIN_FAILURE_LIMIT
        if request.method == "POST" and request.path in self.paths and limit > 0:
            count, ttl = counters.failures(SCOPE, _address(request) or "unknown")
            if count >= limit:
                retry = max(ttl, 1)
                response = render(request, "web/login_locked.html", {"retry_after": retry}, status=429)
                response["Retry-After"] = str(retry)
                return response
        return self.get_response(request)
