"""The decorator every /v1 view wears: method check, key auth, and errors in OpenAI's envelope."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from console.api.auth import authenticate, project_gone
from console.api.body_limit import storage_full
from console.api.errors import ApiError, error_response, server_error
from console.api.validation import reject_nul
from console.core import database
from console.core.errors import DomainError, NotFound, StorageFull, Unavailable
from console.projects.models import Project

log = logging.getLogger(__name__)

ApiView = Callable[..., HttpResponseBase]
AsyncApiView = Callable[..., Coroutine[Any, Any, HttpResponseBase]]


class ApiRequest(HttpRequest):
    project: Project


def method_not_allowed(request: HttpRequest, allowed: set[str]) -> HttpResponse:
    response = error_response(405, f"Invalid method for URL ({request.method} {request.path}).")
    response["Allow"] = ", ".join(sorted(allowed))
    return response


def unavailable_response(exc: Unavailable) -> HttpResponse:
    response = error_response(503, exc.message, type="server_error", code="queue_unavailable")
    response["Retry-After"] = "1"
    return response


def domain_error_response(exc: DomainError) -> HttpResponse:
    if isinstance(exc, NotFound):
        return error_response(404, exc.message, param=exc.param, code=exc.code)
    return error_response(400, exc.message, param=exc.param, code=exc.code)


DATABASE_UNAVAILABLE_MESSAGE = (
    "The database is unavailable right now (it cannot be reached). Please retry shortly."
)


def database_unavailable_response() -> HttpResponse:
    response = error_response(
        503, DATABASE_UNAVAILABLE_MESSAGE, type="server_error", code="database_unavailable"
    )
    response["Retry-After"] = "1"
    return response


def expected(exc: Exception) -> bool:
    """An error with its own answer: no need to ask whether the project was deleted meanwhile
    (and with the database away, no way to)."""
    return isinstance(exc, ApiError | DomainError | Unavailable | StorageFull) or database.unreachable(exc)


def error_for(request: HttpRequest, exc: Exception, gone: ApiError | None = None) -> HttpResponse:
    """The envelope for whatever a view raised; anything unexpected is logged and a 500, unless the
    request's project was deleted while it was under way (`gone`, from auth.project_gone): then a 401."""
    if isinstance(exc, ApiError):
        return exc.response()
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, Unavailable):
        return unavailable_response(exc)
    if database.unreachable(exc):
        # Restarting or failing over: answered at once (the pool waits DB_POOL_TIMEOUT at most),
        # and the transaction, if any, was rolled back.
        log.warning("database unavailable in %s %s: %s", request.method, request.path, exc)
        database.drop_broken_connections()
        return database_unavailable_response()
    if isinstance(exc, StorageFull):
        return storage_full()
    if gone is not None:
        return gone.response()
    log.error("Unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return server_error()


def api_view(*methods: str) -> Callable[[ApiView], ApiView]:
    allowed = set(methods)

    def decorate(view: ApiView) -> ApiView:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                request.project = authenticate(request)  # type: ignore[attr-defined]
                if request.method not in allowed:
                    return method_not_allowed(request, allowed)
                reject_nul(request, kwargs)
                return view(request, *args, **kwargs)
            except Exception as exc:
                return error_for(request, exc, None if expected(exc) else project_gone(request))

        return wrapper

    return decorate


def async_api_view(*methods: str) -> Callable[[AsyncApiView], AsyncApiView]:
    """api_view for async views (they run on the event loop; key auth runs in the request's thread)."""
    allowed = set(methods)

    def decorate(view: AsyncApiView) -> AsyncApiView:
        @csrf_exempt
        @functools.wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                request.project = await sync_to_async(authenticate)(request)  # type: ignore[attr-defined]
                if request.method not in allowed:
                    return method_not_allowed(request, allowed)
                return await view(request, *args, **kwargs)
            except Exception as exc:
                gone = None if expected(exc) else await sync_to_async(project_gone)(request)
                return error_for(request, exc, gone)

        return wrapper

    return decorate
