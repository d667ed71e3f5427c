"""Keeps /v1 free of HTML: whatever Django answers there on its own becomes OpenAI's envelope.

Async-capable, so under ASGI it costs no thread hop; it is the only middleware /v1 runs
(see console/asgi.py).
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

from console.api.errors import error_response, server_error

log = logging.getLogger(__name__)

_STATUS_MESSAGES = {
    400: "Bad request.",
    403: "Forbidden.",
    413: "Request entity too large.",
}


def envelope(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if not request.path.startswith("/v1"):
        return response
    if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
        return response
    status = response.status_code
    if status == 404:
        return error_response(404, f"Invalid URL ({request.method} {request.path})")
    if status == 405:
        return error_response(405, f"Invalid method for URL ({request.method} {request.path}).")
    if status >= 500:
        return server_error()
    return error_response(status, _STATUS_MESSAGES.get(status, "Invalid request."))


def _host_error(request: HttpRequest) -> HttpResponse | None:
    """ALLOWED_HOSTS still applies to /v1, which skips CommonMiddleware."""
    try:
        request.get_host()
    except DisallowedHost:
        return error_response(400, "Invalid Host header.")
    return None


class ApiErrorMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        return _host_error(request) or envelope(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        return _host_error(request) or envelope(request, await self.get_response(request))

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.path.startswith("/v1"):
            log.exception("Unhandled error in %s %s", request.method, request.path, exc_info=exception)
            return server_error()
        return None
