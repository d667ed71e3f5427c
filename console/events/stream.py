"""Per-run event log in Redis Streams: the worker appends, any number of SSE readers tail it.

This is the only module that talks to Redis directly (Celery's broker aside). Each run has one
stream, `run:<id>:events`. A stream is cut into segments by `done` entries: one segment per
API call that streams (create, submit_tool_outputs); the last `done` of a finished run is marked
final. A small key `run:<id>:cancel` tells the worker holding a run to stop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis
from django.conf import settings

STREAM_TTL_SECONDS = 7 * 24 * 3600
STREAM_MAXLEN = 100_000
READ_BLOCK_MS = 15_000
START = "0-0"

_sync_client: Any = None
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def _key(run_id: str) -> str:
    return f"run:{run_id}:events"


def _cancel_key(run_id: str) -> str:
    return f"run:{run_id}:cancel"


def client() -> Any:
    global _sync_client
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(settings.REDIS_URL, health_check_interval=30)
    return _sync_client


def _async_client() -> Any:
    loop = asyncio.get_running_loop()
    found = _async_clients.get(loop)
    if found is None:
        found = aioredis.Redis.from_url(settings.REDIS_URL, max_connections=4096)
        _async_clients[loop] = found
    return found


def encode(data: Any) -> bytes:
    return data.encode() if isinstance(data, str) else orjson.dumps(data)


def publish(run_id: str, event: str, data: Any) -> str:
    """Appends one event; returns its stream id."""
    entry_id = client().xadd(_key(run_id), {"e": event, "d": encode(data)}, maxlen=STREAM_MAXLEN, approximate=True)
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def publish_many(run_id: str, events: list[tuple[str, Any]]) -> None:
    """Appends several events in one round trip, in order."""
    pipe = client().pipeline(transaction=False)
    for event, data in events:
        pipe.xadd(_key(run_id), {"e": event, "d": encode(data)}, maxlen=STREAM_MAXLEN, approximate=True)
    pipe.expire(_key(run_id), STREAM_TTL_SECONDS)
    pipe.execute()


def end_segment(run_id: str, *, final: bool) -> None:
    pipe = client().pipeline(transaction=False)
    pipe.xadd(_key(run_id), {"e": "done", "d": b"[DONE]", "f": b"1" if final else b"0"})
    pipe.expire(_key(run_id), STREAM_TTL_SECONDS)
    if final:
        pipe.delete(_cancel_key(run_id))
    pipe.execute()


def last_id(run_id: str) -> str:
    """The id of the newest event, so a reader can start after everything already written."""
    newest = client().xrevrange(_key(run_id), count=1)
    if not newest:
        return START
    entry_id = newest[0][0]
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def request_cancel(run_id: str) -> None:
    client().set(_cancel_key(run_id), b"1", ex=24 * 3600)


def cancel_requested(run_id: str) -> bool:
    return bool(client().exists(_cancel_key(run_id)))


async def tail(run_id: str, after: str = START, *, until_final: bool = False) -> AsyncIterator[tuple[str, bytes] | None]:
    """Yields (event, data) from after `after`; None now and then while nothing happens (for keep-alives).

    Stops after the first `done`, or with until_final after the run's final `done`.
    """
    redis_client = _async_client()
    key = _key(run_id)
    cursor = after
    while True:
        response = await redis_client.xread({key: cursor}, count=500, block=READ_BLOCK_MS)
        if not response:
            yield None
            continue
        for entry_id, fields in response[0][1]:
            cursor = entry_id
            event = fields[b"e"].decode()
            yield event, fields[b"d"]
            if event == "done" and (not until_final or fields.get(b"f") == b"1"):
                return
