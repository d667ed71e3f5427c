"""A strict Content-Security-Policy on the console's pages: scripts, styles and images from here only.

No inline script, handler or style is allowed, so a sanitiser slip in rendered markdown cannot run
code or load a remote image. htmx runs under it with allowEval and its indicator <style> switched
off (the htmx-config meta in base.html). The API (/v1) answers JSON and the Django admin has its
own pages, so both are left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
EXEMPT = ("/v1/", "/admin/")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(EXEMPT) and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = POLICY
        return response
