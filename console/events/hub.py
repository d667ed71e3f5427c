"""Reading run event streams: one shared XREAD per event loop, for every SSE response it serves.

Each reader keeps the id of the last entry handed to it. When the read fails (a dropped
connection, a Redis restart), the hub reconnects with a bounded backoff and reads again from every
reader's own position, so readers see each entry exactly once, whatever happens to the connection.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from console.events import sequence, stream

log = logging.getLogger(__name__)

READ_BLOCK_MS = 15_000
# A reader that got nothing for this long is told so (an empty batch): the SSE layer then sends a
# keep-alive and checks whether the run ended without its `done` reaching Redis.
IDLE_SECONDS = 5.0
_BACKOFF_MIN, _BACKOFF_MAX = 0.05, 2.0


def _entry_id(raw: Any) -> tuple[int, int]:
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class FellBehind(Exception):
    """The reader took too long to take what it was handed: it was dropped, its buffer freed."""


class _Reader:
    """One follower of one run's stream: what the shared read hands it, and where it is.

    What it was handed and has not taken yet is bounded (SSE_READER_BUFFER_BYTES): a reader whose
    client stopped reading, so that its response stopped taking events, is dropped past the bound
    instead of holding the run's events in memory for as long as its client stays connected.
    """

    def __init__(self, key: str, after: str) -> None:
        self.key = key
        self.cursor = _entry_id(after)
        # (entries, their bytes); None once dropped (FellBehind).
        self.queue: asyncio.Queue[tuple[list[dict[bytes, bytes]], int] | None] = asyncio.Queue()
        self.pending = 0  # bytes handed and not taken yet

    def hand(self, entries: list[dict[bytes, bytes]], size: int, limit: int) -> bool:
        """Queues entries (of `size` bytes); False (and the reader dropped, its queue emptied) if more
        than `limit` bytes were still waiting for it. (One read's worth always goes in: a reader
        catching up from a run's start gets up to 1000 entries at once.)"""
        if self.pending <= limit:
            self.pending += size
            self.queue.put_nowait((entries, size))
            return True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.pending = 0
        self.queue.put_nowait(None)
        return False


class _Hub:
    """One per event loop: a single XREAD BLOCK follows every stream this loop's readers follow.

    With hundreds of live SSE responses in one web process, one read returns the new events of
    all of them, instead of one blocking XREAD round trip per response per event. A new reader
    joins by interrupting the blocked read (CLIENT UNBLOCK), so it starts at once.

    The read goes through redis-py's public API (hiredis parses the replies) on a client of its
    own, with one connection: its id is what CLIENT UNBLOCK names. redis-py's own retry is off on
    it, since a reconnect behind our back would change that id; `_run` reconnects instead.
    """

    def __init__(self) -> None:
        self.readers: dict[str, set[_Reader]] = {}
        # Per followed stream: where the next read starts (the slowest reader's cursor).
        self.starts: dict[str, tuple[int, int]] = {}
        # The same as bytes, kept up to date as readers move: redis-py then encodes nothing per read
        # (with hundreds of streams, encoding every key and id on every read cost more than the read).
        self.start_ids: dict[bytes, bytes] = {}
        self.task: asyncio.Task[None] | None = None
        self.redis: Any = None
        self.client_id: int | None = None
        self.reads = 0  # how many reads were sent: a join can tell whether its CLIENT UNBLOCK landed
        self.reading: dict[str, tuple[int, int]] = {}  # the streams the read in flight follows, from where
        self.reconnects = 0

    async def join(self, reader: _Reader) -> None:
        self.readers.setdefault(reader.key, set()).add(reader)
        self._move(reader.key)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
            return
        # The read in flight does not follow this stream yet: interrupt it. If it is not blocked
        # yet (sent, not arrived), try again shortly, unless a new read started meanwhile.
        reads = self.reads
        for pause in (0.002, 0.01, 0.05, 0.2, 1.0):
            if self.client_id is None or self.reads != reads:
                return
            start = self.reading.get(reader.key)
            if start is not None and start <= reader.cursor:
                return  # the read in flight follows this stream from before the reader's cursor
            try:
                if await stream.async_client().client_unblock(self.client_id):
                    return
            except (redis.RedisError, OSError):
                return  # the read is failing too; the reconnect will include this stream
            await asyncio.sleep(pause)

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
        if self.redis is None:
            self.redis = aioredis.Redis.from_url(
                settings.REDIS_URL,
                single_connection_client=True,
                # Above the BLOCK time: a read that outlives it means a dead connection.
                socket_timeout=READ_BLOCK_MS / 1000 + 10,
                socket_connect_timeout=5,
                health_check_interval=30,
                retry=Retry(NoBackoff(), 0),
            )
        if self.client_id is None:
            self.client_id = await self.redis.client_id()

    async def _reset(self) -> None:
        found, self.redis, self.client_id = self.redis, None, None
        if found is not None:
            try:
                await found.aclose()
            except Exception:  # noqa: BLE001 - the connection is broken anyway
                pass

    async def _run(self) -> None:
        while True:
            await self._follow()
            await self._reset()
            if not self.readers:  # no await from here to the end: a join sees this task done
                return

    async def _follow(self) -> None:
        delay = _BACKOFF_MIN
        failing_since: float | None = None
        loop = asyncio.get_running_loop()
        while self.readers:
            try:
                await self._connect()
                starts = dict(self.starts)
                self.reads += 1
                self.reading = starts
                response = await self.redis.xread(dict(self.start_ids), count=1000, block=READ_BLOCK_MS)
            except asyncio.CancelledError:
                await self._reset()
                raise
            except Exception as exc:
                # A dropped connection, a Redis restart, a timeout: read again from each reader's cursor.
                if failing_since is None:
                    failing_since = loop.time()
                    log.warning("reading run events from Redis failed (%s); reconnecting", exc)
                self.reconnects += 1
                await self._reset()
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
                continue
            if failing_since is not None:
                log.warning("reading run events from Redis again after %.1f s", loop.time() - failing_since)
                failing_since, delay = None, _BACKOFF_MIN
            # RESP2: a list of [key, entries]; RESP3: a map; None (or empty) when the block timed out.
            for raw_key, entries in response.items() if isinstance(response, dict) else response or ():
                try:
                    self._hand_out(raw_key.decode(), entries, starts)
                except Exception:  # one stream's bad entry must not stop every reader's
                    log.exception("could not hand out the events of %r", raw_key)

    def _hand_out(self, key: str, entries: list[Any], starts: dict[str, tuple[int, int]]) -> None:
        """Gives each reader of key the entries after its cursor."""
        readers = self.readers.get(key)
        if not readers or not entries:
            return
        parsed = [(_entry_id(entry_id), fields) for entry_id, fields in entries]
        everything = [fields for _, fields in parsed]
        total = sum(len(fields.get(b"d", b"")) for fields in everything)
        started = starts.get(key, (0, 0))
        limit = settings.SSE_READER_BUFFER_BYTES
        behind: list[_Reader] = []
        for reader in readers:
            if reader.cursor < started:
                # It joined while this read was on its way (too late for CLIENT UNBLOCK),
                # and the read began after its cursor: the next read starts at its cursor.
                continue
            if parsed[0][0] > reader.cursor:  # the usual case: all of it is new to this reader
                fresh, size = everything, total
            else:
                fresh = [fields for at, fields in parsed if at > reader.cursor]
                size = sum(len(fields.get(b"d", b"")) for fields in fresh)
            if fresh:
                reader.cursor = parsed[-1][0]
                if not reader.hand(fresh, size, limit):
                    behind.append(reader)
        for reader in behind:
            log.info("dropping a reader of %s: over %d bytes behind its client", key, limit)
            self.leave(reader)
        self._move(key)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Hub] = weakref.WeakKeyDictionary()


def _hub() -> _Hub:
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = _Hub()
    return found


async def tail(
    run_id: str, after: str = stream.START, *, until_final: bool = False
) -> AsyncIterator[list[tuple[str, bytes]]]:
    """Yields lists of (event, data) after `after`, as they arrive, each entry exactly once, across
    lost connections; an empty list after IDLE_SECONDS without any. Stops after the first `done`,
    or with until_final after the run's final `done`. Raises FellBehind if the caller stopped taking
    batches for so long that more than SSE_READER_BUFFER_BYTES piled up.
    """
    hub = _hub()
    reader = _Reader(stream.stream_key(run_id), after)
    gaps = sequence.Gaps(from_start=after == stream.START)
    await hub.join(reader)
    try:
        while True:
            try:
                async with asyncio.timeout(IDLE_SECONDS):
                    item = await reader.queue.get()
            except TimeoutError:
                yield []
                continue
            if item is None:
                raise FellBehind(run_id)
            entries, size = item
            reader.pending -= size
            batch: list[tuple[str, bytes]] = []
            for fields in entries:
                if not gaps.follows(fields):  # an entry never reached Redis: the stream must not say done
                    batch.append(("error", sequence.GAP_ERROR))
                    yield batch
                    return
                event = fields[b"e"].decode()
                batch.append((event, fields[b"d"]))
                if event == "done" and (not until_final or fields.get(b"f") == b"1"):
                    yield batch
                    return
            yield batch
    finally:
        hub.leave(reader)
