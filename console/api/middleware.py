"""Keeps /v1 free of HTML: whatever Django answers there on its own becomes OpenAI's envelope."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from console.api.errors import error_response, server_error

log = logging.getLogger(__name__)

_STATUS_MESSAGES = {
    400: "Bad request.",
    403: "Forbidden.",
    413: "Request entity too large.",
}


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
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

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.path.startswith("/v1"):
            log.exception("Unhandled error in %s %s", request.method, request.path, exc_info=exception)
            return server_error()
        return None
