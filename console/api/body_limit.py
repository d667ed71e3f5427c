"""ASGI guard: refuse /v1 bodies over the file limit before they are read, rather than after; and
answer 507 when a body cannot even be spooled to disk because the disk is full (Django's handler would
let the error out as a bare 500)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse

from console.api.errors import error_response
from console.core.errors import StorageFull, is_storage_full

# Room for the multipart boundaries and form fields around a maximum-size file.
MULTIPART_OVERHEAD = 1024 * 1024


def too_large() -> HttpResponse:
    limit_mb = settings.FILE_MAX_BYTES // (1024 * 1024)
    return error_response(
        413, f"Request too large: files may be at most {limit_mb} MB.", param="file", code="file_too_large"
    )


def storage_full() -> HttpResponse:
    return error_response(507, StorageFull.MESSAGE, type="server_error", code="storage_full")


class BodyLimitMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        limit = settings.FILE_MAX_BYTES + MULTIPART_OVERHEAD
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._refuse(send)
                return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> dict[str, Any]:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    # Django stops reading on a disconnect and sends nothing; we answer below.
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except OSError as exc:
            if started or not is_storage_full(exc):
                raise
            # The spooled temporary file is unlinked already (tempfile's files have no name on disk).
            await self._refuse(send, storage_full())
            return
        if exceeded and not started:
            await self._refuse(send)

    async def _refuse(self, send: Any, response: HttpResponse | None = None) -> None:
        response = response or too_large()
        body = response.content
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.items()
        ]
        headers += [(b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": body})
