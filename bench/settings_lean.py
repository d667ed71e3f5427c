"""Only the middleware /v1 needs (its error envelope, async-capable): what a /v1-only handler would run.

The console's middleware (sessions, CSRF, auth, messages, clickjacking, htmx, security, common) does
nothing for a Bearer-key JSON API, but under ASGI each MiddlewareMixin hook is a thread hop.
"""

from console.settings import *  # noqa: F403

MIDDLEWARE = ["bench.api_middleware.DualApiErrorMiddleware"]
