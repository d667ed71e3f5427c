"""A response's events for HTTP: SSE frames (`event:`/`data:`, ending with `data: [DONE]`), and the
final Response object a non-streaming request waits for.

Events come from the response's Redis stream (console/events/hub.py resumes across lost
connections). If the response is over but its stream's end never arrived (a dead worker whose
response the reaper failed, Redis away), the stream ends from the database: the terminal event (an
`error` after a failure), numbered after the last one read, then `data: [DONE]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.db import connection

from console.events import hub, stream
from console.responses.models import TERMINAL_STATUSES, Response
from console.responses.objects import response_object

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"
GRACE_INTERVALS = 2
TERMINAL_EVENTS = ("response.completed", "response.failed", "response.incomplete")


def _row(response_id: str) -> Response | None:
    try:
        return Response.objects.filter(pk=response_id).first()
    finally:
        connection.close()  # this thread serves many streams; a pooled connection goes back


def _ending(row: Response | None, sequence: int) -> list[tuple[str, dict[str, Any]]]:
    """What a stream whose end was lost ends with, from the row."""
    if row is None or row.status == "cancelled":
        return []
    kind = {"completed": "response.completed", "incomplete": "response.incomplete"}.get(
        row.status, "response.failed"
    )
    events: list[tuple[str, dict[str, Any]]] = [
        (kind, {"type": kind, "sequence_number": sequence, "response": response_object(row)})
    ]
    if row.status == "failed" and row.error:
        events.append(
            (
                "error",
                {
                    "type": "error",
                    "sequence_number": sequence + 1,
                    "code": row.error.get("code"),
                    "message": row.error.get("message"),
                    "param": None,
                },
            )
        )
    return events


def _sequence(data: bytes) -> int:
    return int(orjson.loads(data).get("sequence_number", -1))


async def events(
    response_id: str, starting_after: int | None = None
) -> AsyncIterator[list[tuple[str, bytes]]]:
    """Batches of (event, data) after sequence number starting_after; an empty batch when idle."""
    last = -1
    over = 0
    ended = False
    async for batch in hub.tail(response_id, stream.START, until_final=True):
        if batch:
            over = 0
            batch = [(event, data) for event, data in batch if event != "done"]
            if not batch:
                return
            last = _sequence(batch[-1][1])
            ended = ended or any(event in TERMINAL_EVENTS for event, _ in batch)
            if starting_after is not None and last <= starting_after:
                continue
            if starting_after is not None:
                batch = [(e, d) for e, d in batch if _sequence(d) > starting_after]
            yield batch
            continue
        row = await sync_to_async(_row, thread_sensitive=False)(response_id)
        over = over + 1 if row is None or row.status in TERMINAL_STATUSES else 0
        if over >= GRACE_INTERVALS:
            # The terminal event came through and only the `done` was lost: nothing to add.
            ending = [] if ended else [(e, orjson.dumps(d)) for e, d in _ending(row, last + 1)]
            if starting_after is not None:
                ending = [(e, d) for e, d in ending if _sequence(d) > starting_after]
            if ending:
                yield ending
            return
        yield []


def frame(event: str, data: bytes) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


async def frames(response_id: str, starting_after: int | None = None) -> AsyncIterator[bytes]:
    async for batch in events(response_id, starting_after):
        if batch:
            yield b"".join(frame(event, data) for event, data in batch)
        else:
            yield KEEPALIVE
    yield DONE


async def final_object(response_id: str) -> dict[str, Any] | None:
    """The Response object once it is over: from its terminal event, or (cancelled, or events
    lost) from the row; None if the row is gone too."""
    async for batch in events(response_id):
        for event, data in batch:
            if event in TERMINAL_EVENTS:
                return dict(orjson.loads(data)["response"])
    row = await sync_to_async(_row, thread_sensitive=False)(response_id)
    return response_object(row) if row is not None else None
