"""A sync-and-async ApiErrorMiddleware, to measure what the sync-only one costs under ASGI.

console.api.middleware.ApiErrorMiddleware is sync-only and outermost. Under ASGI Django therefore runs it
in a worker thread and calls the (async-capable) rest of the chain back on the event loop through
async_to_sync: two extra thread hops per request. This copy declares both modes, so the chain stays on the
event loop until the sync view. Same behaviour; the post-processing is copied from the original.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from console.api.errors import error_response, server_error
from console.api.middleware import _STATUS_MESSAGES, ApiErrorMiddleware


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


class DualApiErrorMiddleware(ApiErrorMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        return envelope(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        return envelope(request, await self.get_response(request))
