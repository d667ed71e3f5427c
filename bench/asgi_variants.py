"""ASGI entry points for trying server-level changes without touching console/ (see docs/benchmarks.md).

    bench/api_core.py --app bench.asgi_variants:pooled

`pooled` reuses request threads. Django's ASGIHandler enters a fresh ThreadSensitiveContext for every
request, so asgiref starts a new one-thread executor (a new OS thread) per request, and because Django's
database connections are thread-local, every request also opens (and never reuses) a new database
connection. Entering an outer ThreadSensitiveContext with a caller-owned executor makes Django's inner
one a no-op, so a request's sync middleware, view and signals run on a thread taken from a free list, and
CONN_MAX_AGE works again: the thread keeps its connection between requests.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

from asgiref.sync import ThreadSensitiveContext  # noqa: E402

from console.asgi import application as baseline  # noqa: E402


class ReusedRequestThreads:
    def __init__(self, app: Any, keep: int = 32) -> None:
        self.app = app
        self.keep = keep
        self.free: list[ThreadPoolExecutor] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Never wait for a thread: take a spare one or start another, so a long stream can't starve others.
        executor = self.free.pop() if self.free else ThreadPoolExecutor(1, thread_name_prefix="request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            if len(self.free) < self.keep:
                self.free.append(executor)
            else:
                executor.shutdown(wait=False)


pooled = ReusedRequestThreads(baseline)
