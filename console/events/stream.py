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

import hiredis
import orjson
import redis
import redis.asyncio as aioredis
from django.conf import settings

STREAM_TTL_SECONDS = 7 * 24 * 3600
STREAM_MAXLEN = 100_000
READ_BLOCK_MS = 15_000
_XADD_OPTIONS = (b"MAXLEN", b"~", b"%d" % STREAM_MAXLEN, b"*")
_TTL = b"%d" % STREAM_TTL_SECONDS
_XREAD = (b"XREAD", b"COUNT", b"1000", b"BLOCK", b"%d" % READ_BLOCK_MS, b"STREAMS")
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


def _pack(*args: bytes) -> bytes:
    # hiredis's stub types the argument as a 1-tuple; it takes a tuple of any length.
    return hiredis.pack_command(args)  # type: ignore[arg-type]


def encode(data: Any) -> bytes:
    return data.encode() if isinstance(data, str) else orjson.dumps(data)


class _Publisher:
    """One thread per process sends queued events to Redis in batches, in order.

    Writers (hundreds of run threads) only enqueue, so each token costs a queue put instead of a
    blocking round trip; whatever piles up while one batch is in flight goes in the next. A batch is
    packed by hiredis and sent in one write on one connection, then its replies are read: redis-py's
    pipeline cost more in Python per command than Redis took to run it.
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
        commands: list[bytes] = []
        for kind, payload in batch:
            if kind == "xadd":
                run_id, fields = payload
                commands.append(_pack(b"XADD", _key(run_id).encode(), *_XADD_OPTIONS, *fields))
            elif kind == "expire":
                commands.append(_pack(b"EXPIRE", _key(payload).encode(), _TTL))
            elif kind == "delete":
                commands.append(_pack(b"DEL", payload.encode()))
            elif kind == "flush":
                waiters.append(payload)
        for attempt in range(3):
            try:
                if commands:
                    _execute(b"".join(commands), len(commands))
                break
            except redis.RedisError:
                log.exception("could not publish %d run events (attempt %d)", len(batch), attempt + 1)
                time.sleep(0.2 * (attempt + 1))
        for waiter in waiters:
            waiter.set()


def _execute(packed: bytes, count: int) -> None:
    """Sends packed commands in one write and reads their count replies."""
    pool = client().connection_pool
    conn = pool.get_connection()
    try:
        conn.send_packed_command([packed])  # the sync connection writes each item of a list
        for _ in range(count):
            try:
                conn.read_response()
            except redis.ResponseError:
                log.exception("Redis refused a run event command")  # the others still count
    except BaseException:
        conn.disconnect()  # replies may be left unread: the connection cannot be reused as is
        raise
    finally:
        pool.release(conn)


_publisher = _Publisher()


def publish(run_id: str, event: str, data: Any) -> None:
    """Appends one event (asynchronously, in order with every other event of this process)."""
    _publisher.put("xadd", (run_id, (b"e", event.encode(), b"d", encode(data))))


def publish_many(run_id: str, events: list[tuple[str, Any]]) -> None:
    for event, data in events:
        _publisher.put("xadd", (run_id, (b"e", event.encode(), b"d", encode(data))))
    _publisher.put("expire", run_id)


def end_segment(run_id: str, *, final: bool) -> None:
    """Ends what a streaming reader sees; returns once every event so far is in Redis."""
    _publisher.put("xadd", (run_id, (b"e", b"done", b"d", b"[DONE]", b"f", b"1" if final else b"0")))
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


def cancel_requested_many(run_ids: list[str]) -> set[str]:
    """The runs among run_ids whose cancel was requested, in one round trip."""
    flags = client().mget([_cancel_key(run_id) for run_id in run_ids])
    return {run_id for run_id, flag in zip(run_ids, flags, strict=True) if flag}


def _entry_id(raw: Any) -> tuple[int, int]:
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class _Reader:
    """One follower of one run's stream: what the shared read hands it, and where it is."""

    def __init__(self, key: str, after: str) -> None:
        self.key = key
        self.cursor = _entry_id(after)
        self.queue: asyncio.Queue[Any] = asyncio.Queue()


class _Hub:
    """One per event loop: a single XREAD BLOCK follows every stream this loop's readers follow.

    With hundreds of live SSE responses in one web process, one read returns the new events of
    all of them, instead of one blocking XREAD round trip per response per event. A new reader
    joins by interrupting the blocked read (CLIENT UNBLOCK), so it starts at once.

    The read is sent as bytes packed by hiredis on a connection of its own, with where each stream
    starts kept up to date as readers move: with hundreds of streams, redis-py packing the command
    in Python on every read cost more than the events it brought.
    """

    def __init__(self) -> None:
        self.readers: dict[str, set[_Reader]] = {}
        # Per followed stream: where the next read starts (the slowest reader's cursor), and as bytes.
        self.starts: dict[str, tuple[int, int]] = {}
        self.start_ids: dict[bytes, bytes] = {}
        self.task: asyncio.Task[None] | None = None
        self.conn: Any = None
        self.reader_id: int | None = None

    async def join(self, reader: _Reader) -> None:
        self.readers.setdefault(reader.key, set()).add(reader)
        self._move(reader.key)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        elif self.reader_id is not None:
            await _async_client().client_unblock(self.reader_id)

    def leave(self, reader: _Reader) -> None:
        found = self.readers.get(reader.key)
        if found is not None:
            found.discard(reader)
            if not found:
                del self.readers[reader.key]
        self._move(reader.key)

    def _move(self, key: str) -> None:
        """Recomputes where the next read of key starts."""
        readers = self.readers.get(key)
        if not readers:
            self.starts.pop(key, None)
            self.start_ids.pop(key.encode(), None)
            return
        start = min(reader.cursor for reader in readers)
        if self.starts.get(key) != start:
            self.starts[key] = start
            self.start_ids[key.encode()] = b"%d-%d" % start

    async def _connect(self) -> None:
        if self.conn is None:
            pool = aioredis.ConnectionPool.from_url(settings.REDIS_URL, socket_timeout=None)
            self.conn = pool.make_connection()
            await self.conn.connect()
            await self.conn.send_packed_command(_pack(b"CLIENT", b"ID"))
            self.reader_id = await self.conn.read_response()

    async def _run(self) -> None:
        try:
            await self._connect()
            while self.readers:
                starts = dict(self.starts)
                keys, ids = self.start_ids.keys(), self.start_ids.values()
                await self.conn.send_packed_command(_pack(*_XREAD, *keys, *ids), check_health=False)
                response = await self.conn.read_response()
                # A map under RESP3 (redis-py's default since 7), a list of pairs under RESP2; None on timeout.
                for raw_key, entries in response.items() if isinstance(response, dict) else response or ():
                    self._hand_out(raw_key.decode(), entries, starts)
        except Exception as exc:
            log.exception("reading run events from Redis failed")
            for readers in self.readers.values():
                for reader in readers:
                    reader.queue.put_nowait(exc)
            if self.conn is not None:
                await self.conn.disconnect()
            self.conn = self.reader_id = None

    def _hand_out(self, key: str, entries: list[Any], starts: dict[str, tuple[int, int]]) -> None:
        """Gives each reader of key the entries after its cursor."""
        readers = self.readers.get(key)
        if not readers:
            return
        parsed = [(_entry_id(entry_id), values) for entry_id, values in entries]
        started = starts.get(key, (0, 0))
        for reader in readers:
            if reader.cursor < started:
                # It joined while this read was on its way (too late for CLIENT UNBLOCK),
                # and the read began after its cursor: the next read starts at its cursor.
                continue
            fresh = [
                dict(zip(values[::2], values[1::2], strict=True))
                for at, values in parsed
                if at > reader.cursor
            ]
            if fresh:
                reader.cursor = parsed[-1][0]
                reader.queue.put_nowait(fresh)
        self._move(key)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Hub] = weakref.WeakKeyDictionary()


def _hub() -> _Hub:
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = _Hub()
    return found


async def tail(
    run_id: str, after: str = START, *, until_final: bool = False
) -> AsyncIterator[list[tuple[str, bytes]]]:
    """Yields lists of (event, data) after `after`, as they arrive; an empty list now and then while
    nothing happens (for keep-alives). Stops after the first `done`, or with until_final after the
    run's final `done`.
    """
    hub = _hub()
    reader = _Reader(_key(run_id), after)
    await hub.join(reader)
    try:
        while True:
            try:
                async with asyncio.timeout(READ_BLOCK_MS / 1000):
                    entries = await reader.queue.get()
            except TimeoutError:
                yield []
                continue
            if isinstance(entries, Exception):
                raise entries
            batch: list[tuple[str, bytes]] = []
            for fields in entries:
                event = fields[b"e"].decode()
                batch.append((event, fields[b"d"]))
                if event == "done" and (not until_final or fields.get(b"f") == b"1"):
                    yield batch
                    return
            yield batch
    finally:
        hub.leave(reader)
