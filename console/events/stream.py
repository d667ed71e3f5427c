"""Per-run event log in Redis Streams: the worker appends, any number of SSE readers tail it.

This is the only module that talks to Redis directly (Celery's broker aside). Each run has one
stream, `run:<id>:events`. A stream is cut into segments by `done` entries: one segment per
API call that streams (create, submit_tool_outputs); the last `done` of a finished run is marked
final. A small key `run:<id>:cancel` tells the worker holding a run to stop.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
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

log = logging.getLogger(__name__)

_sync_client: Any = None
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
_client_lock = threading.Lock()


def _key(run_id: str) -> str:
    return f"run:{run_id}:events"


def _cancel_key(run_id: str) -> str:
    return f"run:{run_id}:cancel"


def client() -> Any:
    global _sync_client
    with _client_lock:
        if _sync_client is None:
            # Blocking pool: hundreds of worker threads share it and wait for a connection rather
            # than failing when all are busy (redis-py's default pool raises past 100).
            pool = redis.BlockingConnectionPool.from_url(settings.REDIS_URL, max_connections=512, timeout=30)
            _sync_client = redis.Redis(connection_pool=pool, health_check_interval=30)
        return _sync_client


def _async_client() -> Any:
    loop = asyncio.get_running_loop()
    found = _async_clients.get(loop)
    if found is None:
        # No socket timeout: XREAD BLOCK waits up to READ_BLOCK_MS on purpose.
        found = aioredis.Redis.from_url(settings.REDIS_URL, max_connections=4096, socket_timeout=None)
        _async_clients[loop] = found
    return found


def encode(data: Any) -> bytes:
    return data.encode() if isinstance(data, str) else orjson.dumps(data)


class _Publisher:
    """One thread per process sends queued events to Redis in pipelines, in order.

    Writers (hundreds of run threads) only enqueue, so each token costs a queue put instead of a
    blocking round trip; whatever piles up while one pipeline is in flight goes in the next.
    """

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def put(self, kind: str, payload: Any) -> None:
        if self.thread is None or not self.thread.is_alive():
            with self.lock:
                if self.thread is None or not self.thread.is_alive():
                    self.thread = threading.Thread(target=self._run, name="event-publisher", daemon=True)
                    self.thread.start()
        self.queue.put((kind, payload))

    def flush(self, timeout: float = 30.0) -> None:
        done = threading.Event()
        self.put("flush", done)
        if not done.wait(timeout):
            log.error("event publisher did not flush within %s s", timeout)

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < 1000:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            self._send(batch)

    def _send(self, batch: list[tuple[str, Any]]) -> None:
        waiters: list[threading.Event] = []
        pipe = client().pipeline(transaction=False)
        for kind, payload in batch:
            if kind == "xadd":
                run_id, fields = payload
                pipe.xadd(_key(run_id), fields, maxlen=STREAM_MAXLEN, approximate=True)
            elif kind == "expire":
                pipe.expire(_key(payload), STREAM_TTL_SECONDS)
            elif kind == "delete":
                pipe.delete(payload)
            elif kind == "flush":
                waiters.append(payload)
        for attempt in range(3):
            try:
                if len(pipe):
                    pipe.execute()
                break
            except redis.RedisError:
                log.exception("could not publish %d run events (attempt %d)", len(batch), attempt + 1)
                time.sleep(0.2 * (attempt + 1))
        for waiter in waiters:
            waiter.set()


_publisher = _Publisher()


def publish(run_id: str, event: str, data: Any) -> None:
    """Appends one event (asynchronously, in order with every other event of this process)."""
    _publisher.put("xadd", (run_id, {"e": event, "d": encode(data)}))


def publish_many(run_id: str, events: list[tuple[str, Any]]) -> None:
    for event, data in events:
        _publisher.put("xadd", (run_id, {"e": event, "d": encode(data)}))
    _publisher.put("expire", run_id)


def end_segment(run_id: str, *, final: bool) -> None:
    """Ends what a streaming reader sees; returns once every event so far is in Redis."""
    _publisher.put("xadd", (run_id, {"e": "done", "d": b"[DONE]", "f": b"1" if final else b"0"}))
    _publisher.put("expire", run_id)
    if final:
        _publisher.put("delete", _cancel_key(run_id))
    _publisher.flush()


def flush() -> None:
    """Waits until every event published so far by this process is in Redis."""
    _publisher.flush()


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


async def tail(run_id: str, after: str = START, *, until_final: bool = False) -> AsyncIterator[list[tuple[str, bytes]]]:
    """Yields lists of (event, data) after `after`, as they arrive; an empty list now and then while
    nothing happens (for keep-alives). Stops after the first `done`, or with until_final after the
    run's final `done`.
    """
    redis_client = _async_client()
    key = _key(run_id)
    cursor = after
    while True:
        response = await redis_client.xread({key: cursor}, count=1000, block=READ_BLOCK_MS)
        if not response:
            yield []
            continue
        batch: list[tuple[str, bytes]] = []
        for entry_id, fields in response[0][1]:
            cursor = entry_id
            event = fields[b"e"].decode()
            batch.append((event, fields[b"d"]))
            if event == "done" and (not until_final or fields.get(b"f") == b"1"):
                yield batch
                return
        yield batch
