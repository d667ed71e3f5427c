"""Request ids: every /v1 response carries `x-request-id`, and every log line of that request names it.

The id is made here, at the outermost ASGI layer, so errors answered before Django (an oversized
body), streams and Django's own answers all carry it. It lives in a context variable for the
request: asgiref copies the context into the threads that run sync views, so the log filter below
finds it in any log record the request causes. A client's own `X-Client-Request-Id` (openai-python
and the Node SDK can send one) is logged beside it. docs/api.md says how to find a request in the
logs.
"""

from __future__ import annotations

import contextvars
import logging
import time
import uuid
from typing import Any

log = logging.getLogger("console.requests")

HEADER = b"x-request-id"
CLIENT_HEADER = b"x-client-request-id"
# A client's id is logged, never trusted further: bounded, and printable ASCII only.
CLIENT_ID_MAX = 128

current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def _client_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == CLIENT_HEADER:
            text = value[:CLIENT_ID_MAX].decode("ascii", "replace")
            return "".join(c if " " < c < "\x7f" else "?" for c in text) or "-"
    return "-"


class RequestIdFilter(logging.Filter):
    """Gives every log record a `request_id` (that of the request being served, else "-")."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current.get()
        return True


class RequestIdMiddleware:
    """ASGI: an id per /v1 request, sent as `x-request-id`, and one log line per request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        token = current.set(request_id)
        started = time.monotonic()
        status = 0

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Ours replaces a provider's (pass-through relays theirs as x-upstream-request-id).
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            log.info(
                "%s %s %s %.1fms client_request_id=%s",
                scope.get("method", ""),
                scope["path"],
                status or "-",
                (time.monotonic() - started) * 1000,
                _client_id(scope.get("headers", [])),
            )
            current.reset(token)
