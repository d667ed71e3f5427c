"""Server-sent events framing for run streams: `event:`/`data:` frames ending with `data: [DONE]`.

Every event of the run's Redis stream is sent once, in order, across lost Redis connections (the
hub resumes each reader where it was). If the run is over but its stream's `done` never arrived
(Redis lost it, or was away when the run ended), the stream ends from the database instead: the
run's terminal event (and `error` if it failed), then `data: [DONE]`. No client waits forever.

A client that stops reading costs only itself: its events wait in a bounded buffer (the hub's,
SSE_READER_BUFFER_BYTES; then the socket's), and past it, or once its socket has taken nothing for
WEB_SEND_TIMEOUT seconds (console/webserver.py), it is disconnected. The run is not affected.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.db import connection
from django.http import StreamingHttpResponse

from console.core import database
from console.events import hub
from console.runs import stream_end

KEEPALIVE = b": keep-alive\n\n"
DONE = b"event: done\ndata: [DONE]\n\n"
# Idle intervals (hub.IDLE_SECONDS each) a run must be seen over before its missing `done` is given
# up on: its last events may still be on their way to Redis when the database says it ended.
GRACE_INTERVALS = 2
WRITE_BYTES = 64 * 1024


def _ending(run_id: str, until_final: bool) -> list[tuple[str, Any]] | None:
    try:
        return stream_end.ending(run_id, until_final=until_final)
    except database.UNREACHABLE:
        database.drop_broken_connections()
        return None  # the database is away: the stream goes on from Redis, and asks again later
    finally:
        connection.close()  # a pooled connection goes back to its pool; this thread serves many streams


async def frames(run_id: str, after: str, *, until_final: bool = False) -> AsyncIterator[bytes]:
    try:
        async for chunk in _frames(run_id, after, until_final):
            yield chunk
    except hub.FellBehind:
        # The client stopped reading while events piled up: the response ends here, the run goes on,
        # and the client can read everything again with GET …/events.
        return


async def _frames(run_id: str, after: str, until_final: bool) -> AsyncIterator[bytes]:
    last_event = ""
    over = 0  # consecutive idle intervals the database said the run was over
    async for batch in hub.tail(run_id, after, until_final=until_final):
        if batch:
            over = 0
            last_event = batch[-1][0]
            # What one read returns goes out in as few writes as possible, each of WRITE_BYTES at most:
            # a write is copied whole into the connection's buffer, so a client that does not read
            # holds at most one of them there (its next write waits for the buffer to drain).
            for chunk in _writes(batch):
                yield chunk
            continue
        ending = await sync_to_async(_ending, thread_sensitive=False)(run_id, until_final)
        over = over + 1 if ending is not None else 0
        if ending is not None and over >= GRACE_INTERVALS:
            if any(event == last_event for event, _ in ending):
                ending = []  # the terminal event came through; only the `done` was lost
            yield b"".join(frame(event, orjson.dumps(data)) for event, data in ending) + DONE
            return
        yield KEEPALIVE


def _writes(batch: list[tuple[str, bytes]]) -> Iterator[bytes]:
    pending: list[bytes] = []
    size = 0
    for event, data in batch:
        one = frame(event, data)
        if pending and size + len(one) > WRITE_BYTES:
            yield b"".join(pending)
            pending, size = [], 0
        pending.append(one)
        size += len(one)
    if pending:
        yield b"".join(pending)


def frame(event: str, data: bytes) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def sse_response(body: AsyncIterator[bytes]) -> StreamingHttpResponse:
    """The streaming response, from a sync view. The view's database connection goes back to its
    pool now: Django would return it only when the stream ends, so with PostgreSQL's pool every open
    stream would hold one (200 streams, a pool of 20: every other request waits for a connection)."""
    connection.close()
    response = StreamingHttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
