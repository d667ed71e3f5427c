"""Per-run event log in Redis Streams: the worker appends, any number of SSE readers tail it.

This package is the only code that talks to Redis directly (Celery's broker aside): this module
writes, `console.events.hub` reads. Each run has one stream, `run:<id>:events`. A stream is cut
into segments by `done` entries: one segment per API call that streams (create,
submit_tool_outputs); the last `done` of a finished run is marked final. A small key
`run:<id>:cancel` tells the worker holding a run to stop.

Two ways in:
- `publish`/`publish_many`/`end_segment` (the engine's hot path) only enqueue; one thread per
  process sends what piled up in batches, in order. It never adds an entry twice and never drops
  one silently: see `_Publisher`.
- `publish_now` (API requests) writes at once with short timeouts and raises `Unavailable`, so a
  request that needs Redis can answer 503 within a bound and leave nothing behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import hiredis
import orjson
import redis
import redis.asyncio as aioredis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from console.core.errors import Unavailable

STREAM_TTL_SECONDS = 7 * 24 * 3600
STREAM_MAXLEN = 100_000
_XADD_OPTIONS = (b"MAXLEN", b"~", b"%d" % STREAM_MAXLEN, b"*")
_TTL = b"%d" % STREAM_TTL_SECONDS
START = "0-0"
# Entries the publisher could not confirm are looked for among this many more of a stream's newest.
_RESOLVE_MARGIN = 200
# How long a run is remembered as having lost events (its worker checks far more often than this).
_LOST_MEMORY_SECONDS = 3600.0
# Requests that need Redis give up after this long, so they can answer 503 well within 2 s.
REQUEST_TIMEOUT_SECONDS = 0.5

UNAVAILABLE_MESSAGE = (
    "The run queue is unavailable right now (its Redis server cannot be reached). Please retry shortly."
)

log = logging.getLogger(__name__)

_sync_client: Any = None
_request_client: Any = None
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
_client_lock = threading.Lock()


class PublishError(Exception):
    """Events could not be written to Redis within the bound."""


def stream_key(run_id: str) -> str:
    return f"run:{run_id}:events"


def _cancel_key(run_id: str) -> str:
    return f"run:{run_id}:cancel"


def client() -> Any:
    global _sync_client
    with _client_lock:
        if _sync_client is None:
            # Blocking pool: hundreds of worker threads share it and wait for a connection rather
            # than failing when all are busy (redis-py's default pool raises past 100). Timeouts,
            # so a Redis that stops answering fails a call instead of hanging it.
            pool = redis.BlockingConnectionPool.from_url(
                settings.REDIS_URL,
                max_connections=512,
                timeout=30,
                socket_timeout=10,
                socket_connect_timeout=5,
            )
            _sync_client = redis.Redis(connection_pool=pool, health_check_interval=30)
        return _sync_client


def _requests_client() -> Any:
    """For API requests: short timeouts and one retry (a pooled connection may predate a Redis restart)."""
    global _request_client
    with _client_lock:
        if _request_client is None:
            _request_client = redis.Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=REQUEST_TIMEOUT_SECONDS,
                socket_connect_timeout=REQUEST_TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), 1),
                health_check_interval=30,
            )
        return _request_client


def async_client() -> Any:
    """This event loop's client for short commands (CLIENT UNBLOCK); the hub reads on its own."""
    loop = asyncio.get_running_loop()
    found = _async_clients.get(loop)
    if found is None:
        found = aioredis.Redis.from_url(
            settings.REDIS_URL,
            max_connections=64,
            socket_timeout=5,
            socket_connect_timeout=2,
            health_check_interval=30,
        )
        _async_clients[loop] = found
    return found


def _pack(*args: bytes) -> bytes:
    # hiredis's stub types the argument as a 1-tuple; it takes a tuple of any length.
    return hiredis.pack_command(args)  # type: ignore[arg-type]


def encode(data: Any) -> bytes:
    return data.encode() if isinstance(data, str) else orjson.dumps(data)


def _fields(event: str, data: Any) -> tuple[bytes, ...]:
    return (b"e", event.encode(), b"d", encode(data))


class _Command:
    """One packed command of a batch; an XADD carries the publisher's sequence number."""

    __slots__ = ("packed", "run_id", "seq")

    def __init__(self, packed: bytes, run_id: str | None = None, seq: int = 0) -> None:
        self.packed = packed
        self.run_id = run_id
        self.seq = seq


class _Flush:
    __slots__ = ("done", "ok", "dropped")

    def __init__(self, dropped: int) -> None:
        self.done = threading.Event()
        self.ok = True
        self.dropped = dropped  # the publisher's drop count when the flush was asked for


class _Publisher:
    """One thread per process sends queued events to Redis in batches, in order.

    Writers (hundreds of run threads) only enqueue, so each token costs a queue put instead of a
    blocking round trip; whatever piles up while one batch is in flight goes in the next. A batch is
    packed by hiredis and sent in one write on one connection, then its replies are read: redis-py's
    pipeline cost more in Python per command than Redis took to run it.

    Every entry carries `p`, this publisher's token and the entry's number among the run's entries
    from this publisher (1, 2, 3...): a reader that finds a number missing knows the stream has a
    gap (console/events/sequence.py). When a connection fails
    partway through a batch, the replies read say which commands surely ran; Redis runs a
    connection's commands in order, so of the rest a prefix ran. After reconnecting, the newest
    entries of the streams concerned show how far that prefix went, and only what follows it is
    sent again: no entry is ever added twice. If Redis stays away longer than
    EVENTS_PUBLISH_TIMEOUT, the batch is dropped, logged, and its runs are marked as having lost
    events (`lost`), so their workers fail them with a last_error instead of streaming on. An entry
    Redis refuses (OOM at maxmemory, or any other error reply) marks its run the same way, with
    Redis's reason.

    A fence (`set_fence`, the engine's ownership check) may hold back the entries of runs this
    process no longer executes: a worker woken after the reaper ended its runs sends none of them.
    """

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.token = b""
        # Per run: the number of its last entry, and when (monotonic) it was last used.
        self.seqs: dict[str, list[float]] = {}
        self.sent = 0
        self.dropped = 0
        self.lost: dict[str, tuple[float, str]] = {}
        self.down_since: float | None = None
        self.fence: Callable[[set[str]], set[str]] | None = None

    def put(self, kind: str, payload: Any) -> None:
        if self.thread is None or not self.thread.is_alive():
            with self.lock:
                if self.thread is None or not self.thread.is_alive():
                    self.thread = threading.Thread(target=self._run, name="event-publisher", daemon=True)
                    self.thread.start()
        self.queue.put((kind, payload))

    def flush(self, timeout: float) -> None:
        waiter = _Flush(self.dropped)
        self.put("flush", waiter)
        if not waiter.done.wait(timeout):
            raise PublishError(f"the run events were not written to Redis within {timeout:g} s")
        if not waiter.ok:
            raise PublishError("some run events could not be written to Redis and were dropped")

    def _run(self) -> None:
        # Per process and per thread start, so no two publishers ever share a token.
        self.token = b"%d.%s." % (os.getpid(), secrets.token_hex(4).encode())
        while True:
            batch = [self.queue.get()]
            while len(batch) < 1000:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            self._send(batch)

    def _next_seq(self, run_id: str) -> int:
        now = time.monotonic()
        self.sent += 1
        if self.sent % 10_000 == 0:  # forget runs idle past any pause a run may take
            for old in [r for r, (_, used) in self.seqs.items() if now - used > _LOST_MEMORY_SECONDS]:
                del self.seqs[old]
        found = self.seqs.setdefault(run_id, [0, now])
        found[0] += 1
        found[1] = now
        return int(found[0])

    def _fenced(self, batch: list[tuple[str, Any]]) -> set[str]:
        """The runs whose entries this batch must not send (no longer executed here)."""
        if self.fence is None:
            return set()
        runs = {payload[0] for kind, payload in batch if kind == "xadd"}
        if not runs:
            return set()
        try:
            return self.fence(runs)
        except Exception:
            log.exception("the run event fence failed; sending the batch")
            return set()

    def _send(self, batch: list[tuple[str, Any]]) -> None:
        waiters: list[_Flush] = []
        commands: list[_Command] = []
        fenced = self._fenced(batch)
        if fenced:
            log.info("not sending events of runs no longer executed here: %s", ", ".join(sorted(fenced)))
        for kind, payload in batch:
            if kind == "xadd":
                run_id, fields = payload
                if run_id in fenced:
                    continue
                seq = self._next_seq(run_id)
                tag = self.token + b"%d" % seq
                commands.append(
                    _Command(
                        _pack(b"XADD", stream_key(run_id).encode(), *_XADD_OPTIONS, *fields, b"p", tag),
                        run_id,
                        seq,
                    )
                )
                if fields[-2:] == (b"f", b"1"):
                    self.seqs.pop(run_id, None)  # the run's last entry
            elif kind == "expire":
                commands.append(_Command(_pack(b"EXPIRE", stream_key(payload).encode(), _TTL)))
            elif kind == "delete":
                commands.append(_Command(_pack(b"DEL", payload.encode())))
            elif kind == "flush":
                waiters.append(payload)
        try:
            delivered = self._deliver(commands) if commands else True
        except Exception as exc:  # a bug, not Redis: still never silent, and never a waiter left hanging
            log.exception("the run event publisher failed on a batch")
            self._drop(commands, exc)
            delivered = False
        for waiter in waiters:
            waiter.ok = delivered and waiter.dropped == self.dropped
            waiter.done.set()

    def _deliver(self, commands: list[_Command]) -> bool:
        """Sends commands until all ran once, or Redis was away too long (then drops them: False)."""
        bound = settings.EVENTS_PUBLISH_TIMEOUT
        pending = commands
        uncertain = False  # whether some of pending may already have run
        delay = 0.05
        while True:
            try:
                if uncertain:
                    pending = self._unapplied(pending)
                    uncertain = False
                refused = _execute(pending)
            except _Partial as exc:
                pending, uncertain = pending[exc.acknowledged :], True
                error: BaseException = exc.error
            except (redis.RedisError, OSError) as exc:
                error = exc
            else:
                if self.down_since is not None:
                    log.warning(
                        "run events reach Redis again after %.1f s", time.monotonic() - self.down_since
                    )
                self.down_since = None
                for command, reason in refused:
                    if command.run_id is not None:
                        self._mark_lost({command.run_id}, reason)
                return not refused
            now = time.monotonic()
            if self.down_since is None:
                self.down_since = now
                log.warning("could not write run events to Redis (%s); retrying for up to %g s", error, bound)
            if now - self.down_since >= bound:
                self._drop(pending, error)
                time.sleep(min(1.0, bound))  # do not spin while Redis is away
                return False
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _unapplied(self, commands: list[_Command]) -> list[_Command]:
        """The commands that did not run, out of a batch whose replies were cut off.

        The ones that ran are a prefix; the last XADD found in Redis marks its end (per run: entries
        are numbered per run). EXPIRE and DEL can safely run twice, so they all go again.
        """
        per_run: dict[str, int] = {}
        for command in commands:
            if command.run_id is not None:
                per_run[command.run_id] = per_run.get(command.run_id, 0) + 1
        if not per_run:
            return commands
        newest: dict[str, int] = {}
        sync = client()
        prefix = self.token
        for run_id, count in per_run.items():
            newest[run_id] = 0
            for _entry_id, fields in sync.xrevrange(stream_key(run_id), count=count + _RESOLVE_MARGIN):
                tag = fields.get(b"p", b"")
                if tag.startswith(prefix):
                    newest[run_id] = max(newest[run_id], int(tag[len(prefix) :]))
        return [c for c in commands if c.run_id is None or c.seq > newest[c.run_id]]

    def _mark_lost(self, runs: set[str], reason: str) -> None:
        now = time.monotonic()
        for run_id in list(self.lost):
            if now - self.lost[run_id][0] > _LOST_MEMORY_SECONDS:
                del self.lost[run_id]
        for run_id in runs:
            self.lost.setdefault(run_id, (now, reason))

    def _drop(self, commands: list[_Command], error: BaseException) -> None:
        runs = {c.run_id for c in commands if c.run_id is not None}
        self.dropped += 1
        self._mark_lost(runs, LOST_UNAVAILABLE)
        log.error(
            "dropped %d run event commands of %d runs: Redis unavailable for more than %g s (%s); runs: %s",
            len(commands),
            len(runs),
            settings.EVENTS_PUBLISH_TIMEOUT,
            error,
            ", ".join(sorted(runs)[:20]),
        )


class _Partial(Exception):
    """A batch failed after `acknowledged` of its commands were confirmed."""

    def __init__(self, acknowledged: int, error: BaseException) -> None:
        super().__init__(str(error))
        self.acknowledged = acknowledged
        self.error = error


def _execute(commands: list[_Command]) -> list[tuple[_Command, str]]:
    """Sends packed commands in one write and reads their replies; raises _Partial past the first
    write. Returns the commands Redis refused (they ran, and failed: OOM at maxmemory, say), with
    its reason."""
    pool = client().connection_pool
    conn = pool.get_connection()
    acknowledged = 0
    refused: list[tuple[_Command, str]] = []
    try:
        conn.send_packed_command(
            [b"".join(c.packed for c in commands)]
        )  # the sync connection writes each item
    except BaseException:
        conn.disconnect()
        pool.release(conn)
        raise _Partial(0, RuntimeError("write failed")) from None
    try:
        for command in commands:
            try:
                conn.read_response()
            except redis.ResponseError as exc:
                # It ran (and failed); the others still count. A refused entry is a gap in its
                # run's stream: never silent.
                if command.run_id is not None:
                    refused.append((command, f"{type(exc).__name__}: {exc}"))
                log.error("Redis refused a run event command (run %s): %s", command.run_id, exc)
            acknowledged += 1
    except (redis.RedisError, OSError) as exc:
        conn.disconnect()  # replies may be left unread: the connection cannot be reused as is
        raise _Partial(acknowledged, exc) from None
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)
    return refused


_publisher = _Publisher()


def publish(run_id: str, event: str, data: Any) -> None:
    """Appends one event (asynchronously, in order with every other event of this process)."""
    _publisher.put("xadd", (run_id, _fields(event, data)))


def publish_many(run_id: str, events: list[tuple[str, Any]]) -> None:
    for event, data in events:
        _publisher.put("xadd", (run_id, _fields(event, data)))
    _publisher.put("expire", run_id)


# How long ending a run's last segment waits for its events to reach Redis. Short: nothing comes
# after them, the database already holds the outcome, and readers end from it if they never arrive;
# a worker thread held here longer would hold up other runs while Redis is away.
FINAL_FLUSH_SECONDS = 2.0


def end_segment(run_id: str, *, final: bool) -> None:
    """Ends what a streaming reader sees; returns once every event so far is in Redis, or it
    could not be (logged: readers then end the stream from the database).

    A segment that parks the run for tool outputs waits up to the publisher's bound: the client's
    submit_tool_outputs writes its events next, and they must come after this `done`.
    """
    _publisher.put("xadd", (run_id, (b"e", b"done", b"d", b"[DONE]", b"f", b"1" if final else b"0")))
    _publisher.put("expire", run_id)
    if final:
        _publisher.put("delete", _cancel_key(run_id))
    try:
        _publisher.flush(FINAL_FLUSH_SECONDS if final else settings.EVENTS_PUBLISH_TIMEOUT + 5)
    except PublishError as exc:
        log.warning("run %s: the end of its event stream is not in Redis yet: %s", run_id, exc)


def flush(timeout: float | None = None) -> None:
    """Waits until every event published so far by this process is in Redis; PublishError if not."""
    _publisher.flush(settings.EVENTS_PUBLISH_TIMEOUT + 5 if timeout is None else timeout)


LOST_UNAVAILABLE = "the event store (Redis) was unavailable for too long"


def lost(run_id: str) -> bool:
    """Whether some of this run's events were dropped: Redis stayed away too long, or refused them."""
    return run_id in _publisher.lost


def lost_reason(run_id: str) -> str | None:
    """Why this run's events were dropped (Redis's own error when it refused them), or None."""
    found = _publisher.lost.get(run_id)
    return found[1] if found else None


def set_fence(fence: Callable[[set[str]], set[str]] | None) -> None:
    """fence(run ids) -> the runs whose events must not be sent (checked before each batch)."""
    _publisher.fence = fence


def _unavailable(exc: BaseException) -> Unavailable:
    log.warning("Redis unavailable for a request: %s", exc)
    return Unavailable(UNAVAILABLE_MESSAGE)


def publish_now(run_id: str, events: Iterable[tuple[str, Any]], *, end: bool | None = None) -> None:
    """Appends events at once (for API requests); raises Unavailable within about a second if Redis is away.
    With `end`, a `done` follows them (final if end is True).

    These come first on a run's stream or while no worker writes to it (a new run, tool outputs,
    a cancel), so bypassing the publisher's queue keeps the order.
    """
    key = stream_key(run_id)
    try:
        pipe = _requests_client().pipeline(transaction=False)
        for event, data in events:
            pipe.xadd(key, {b"e": event.encode(), b"d": encode(data)}, maxlen=STREAM_MAXLEN, approximate=True)
        if end is not None:
            pipe.xadd(
                key,
                {b"e": b"done", b"d": b"[DONE]", b"f": b"1" if end else b"0"},
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
        pipe.expire(key, STREAM_TTL_SECONDS)
        pipe.execute()
    except (redis.RedisError, OSError) as exc:
        raise _unavailable(exc) from exc


def discard(run_id: str) -> None:
    """Best effort: removes the stream of a run that was never created after all."""
    try:
        _requests_client().delete(stream_key(run_id))
    except (redis.RedisError, OSError):
        log.warning("could not remove the event stream of run %s", run_id)


def check_available() -> None:
    """Raises Unavailable (quickly) if Redis does not answer."""
    try:
        _requests_client().ping()
    except (redis.RedisError, OSError) as exc:
        raise _unavailable(exc) from exc


def last_id(run_id: str) -> str:
    """The id of the newest event, so a reader can start after everything already written."""
    try:
        newest = _requests_client().xrevrange(stream_key(run_id), count=1)
    except (redis.RedisError, OSError) as exc:
        raise _unavailable(exc) from exc
    if not newest:
        return START
    entry_id = newest[0][0]
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def request_cancel(run_id: str) -> None:
    try:
        _requests_client().set(_cancel_key(run_id), b"1", ex=24 * 3600)
    except (redis.RedisError, OSError) as exc:
        raise _unavailable(exc) from exc


def cancel_requested_many(run_ids: list[str]) -> set[str]:
    """The runs among run_ids whose cancel was requested, in one round trip."""
    flags = client().mget([_cancel_key(run_id) for run_id in run_ids])
    return {run_id for run_id, flag in zip(run_ids, flags, strict=True) if flag}
