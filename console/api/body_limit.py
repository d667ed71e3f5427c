"""ASGI guard: refuse /v1 bodies over the file limit before they are read, rather than after."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse

from console.api.errors import error_response

# Room for the multipart boundaries and form fields around a maximum-size file.
MULTIPART_OVERHEAD = 1024 * 1024


def too_large() -> HttpResponse:
    limit_mb = settings.FILE_MAX_BYTES // (1024 * 1024)
    return error_response(
        413, f"Request too large: files may be at most {limit_mb} MB.", param="file", code="file_too_large"
    )


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

        await self.app(scope, counting_receive, tracking_send)
        if exceeded and not started:
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        response = too_large()
        body = response.content
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.items()
        ]
        headers += [(b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": body})
