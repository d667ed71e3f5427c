"""The ASGI application `make run` serves.

Four layers around Django:
- /v1 gets its own handler that runs only the API's middleware: the console's session, CSRF, auth
  and message middleware do nothing for Bearer-key JSON and cost a thread hop each under ASGI;
- request threads are reused: Django's ASGIHandler otherwise starts a new OS thread per request,
  and since database connections are per thread, a new database connection too (never reused);
- oversized /v1 bodies are refused before they are read;
- every /v1 response carries an `x-request-id` that its log lines name (console/api/request_id.py).

The first two lean on how Django and asgiref work rather than on a setting, so
tests/test_asgi.py checks both through a real server: it fails on an upgrade that breaks them.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
# A request waits this long at most for a database connection: during a database outage it then
# answers 503 within 2 s (console/api/endpoint.py) instead of hanging (docs/reliability.md).
os.environ.setdefault("DB_POOL_TIMEOUT", "1")
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402

from console.api.body_limit import BodyLimitMiddleware  # noqa: E402
from console.api.request_id import RequestIdMiddleware  # noqa: E402
from console.core.database import start_pool_keeper  # noqa: E402
from console.core.gc_tuning import freeze_startup_objects  # noqa: E402

API_MIDDLEWARE = ["console.api.middleware.ApiErrorMiddleware"]


class ApiHandler(ASGIHandler):
    """Django's handler with API_MIDDLEWARE in place of settings.MIDDLEWARE.

    Django builds a handler's chain from settings.MIDDLEWARE once, in load_middleware(), and has
    no per-handler setting; so the setting is swapped for that one call.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class ReusedRequestThreads:
    """Runs each request's sync code on a kept thread, so its database connection is kept too.

    Entering an outer ThreadSensitiveContext with our own executor (public in asgiref 3.13) makes
    Django's per-request one a no-op: only the outermost context sets the thread. A request never
    waits for a thread: it takes a spare one or starts another, so long SSE streams cannot starve
    short requests. Once a response has started, its view has run, and its
    thread goes back to the spares: a streamed response then holds no thread while it streams.
    (asgiref asks that two live blocks not share an executor; here the first block has only its
    closing calls left, and they run one at a time with the next request's, on the same thread.)
    """

    def __init__(self, app: Any, keep: int = 64) -> None:
        self.app = app
        self.keep = keep
        self.free: list[ThreadPoolExecutor] = []

    def _release(self, executor: ThreadPoolExecutor) -> None:
        if len(self.free) < self.keep:
            self.free.append(executor)
        else:
            executor.shutdown(wait=False)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        executor = self.free.pop() if self.free else ThreadPoolExecutor(1, thread_name_prefix="request")
        released = False

        async def sending(message: dict[str, Any]) -> None:
            nonlocal released
            if message["type"] == "http.response.start" and len(self.free) < self.keep:
                # Whatever sync work is left (request_finished) queues behind the next user: harmless.
                released = True
                self.free.append(executor)
            await send(message)

        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, sending)
        finally:
            if not released:
                self._release(executor)


class Router:
    def __init__(self, api: Any, console: Any) -> None:
        self.api = api
        self.console = console

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        app = self.api if scope.get("path", "").startswith("/v1/") else self.console
        await app(scope, receive, send)


django_application = ASGIHandler()
application = RequestIdMiddleware(
    BodyLimitMiddleware(ReusedRequestThreads(Router(ApiHandler(), django_application)))
)
start_pool_keeper()
freeze_startup_objects()
