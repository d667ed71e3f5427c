"""What every console view shares: rendering a page or its partial, and upstream failures as pages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

from console.web.access import projects_for, remember_project
from console.web.upstream import UpstreamError, UpstreamTimeout

LAST_PROJECT = "console.last_project"


class HtmxHttpRequest(HttpRequest):
    """What django-htmx's middleware gives every request (DESIGN: HtmxDetails)."""

    htmx: HtmxDetails


View = Callable[..., HttpResponseBase]


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """The whole page, or only `partial` when htmx asks (one view and one template serve both)."""
    if partial and getattr(request, "htmx", False):
        template = f"{template}#{partial}"
    elif "access" in context and request.user.is_authenticated:
        # A full page of a project: remember it (once per session and project) for the next sign-in.
        project = context["access"].project
        if request.session.get(LAST_PROJECT) != project.pk:
            remember_project(request.user, project)
            request.session[LAST_PROJECT] = project.pk
    return render(request, template, context, status=status)


def upstream_failure(request: HttpRequest, exc: UpstreamError) -> HttpResponse:
    status = 504 if isinstance(exc, UpstreamTimeout) else 502
    context = {"message": exc.message}
    if getattr(request, "htmx", False):
        return render(request, "web/_upstream_error.html", context, status=status)
    return render(request, "web/upstream_error.html", context, status=status)


def handles_upstream(view: View) -> View:
    """An unreachable, slow or failing API becomes a clear message, never a 500."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except UpstreamError as exc:
            if exc.not_found:
                raise Http404(exc.message) from None
            return upstream_failure(request, exc)

    return wrapper


def field_errors(exc: UpstreamError, fields: set[str]) -> dict[str, str]:
    """The API's validation message, keyed by the form field it names (`__all__` otherwise)."""
    param = (exc.param or "").split("[")[0].split(".")[0]
    return {param if param in fields else "form": exc.plain}


def page_params(request: HttpRequest, limit: int = 20) -> dict[str, Any]:
    return {"limit": limit, "after": request.GET.get("after") or None}


def project_switcher(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the signed-in user's projects, for the header's project switcher."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or request.path.startswith(("/v1/", "/admin/")):
        return {}
    return {"switcher_projects": projects_for(user)}
