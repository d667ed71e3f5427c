"""Server-sent events framing for run streams: `event:`/`data:` frames ending with `data: [DONE]`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from django.http import StreamingHttpResponse

from console.events import stream

KEEPALIVE = b": keep-alive\n\n"


async def frames(run_id: str, after: str, *, until_final: bool = False) -> AsyncIterator[bytes]:
    # Everything one read returns goes out as one write.
    async for batch in stream.tail(run_id, after, until_final=until_final):
        yield b"".join(frame(event, data) for event, data in batch) if batch else KEEPALIVE


def frame(event: str, data: bytes) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def sse_response(body: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
