"""The worker's engine loop: one asyncio event loop per process streams every run it holds.

A Celery task thread hands its run to this loop and waits (a blocked thread costs no CPU), so
Celery's concurrency still bounds how many runs a process takes, and acks_late still holds. The
provider streams of all runs are read by the one loop thread, without a GIL hand-off per token.
Whatever blocks (the ORM, tokenising a prompt, sandbox and search calls) runs on small thread
pools via `blocking` and `tool`.

Liveness is checked for all runs at once: every CANCEL_CHECK_SECONDS one Redis round trip reads
every held run's cancel flag, and every RUN_HEARTBEAT_SECONDS one UPDATE marks them all alive and
reads back their statuses. A run that is cancelled while it waits on the model is interrupted at once.
Every RUN_PARTIAL_SAVE_SECONDS the text the runs streamed meanwhile is written to their messages
(console/engine/partial.py).

Ownership: a heartbeat that reads a run back as executing gives this process a lease on it for
RUN_HEARTBEAT_TIMEOUT - RUN_HEARTBEAT_SECONDS, shorter than the reaper's bound. Past its lease (a
worker stopped or starved for a while) the executor and the event publisher ask the database again
before they write anything for the run (`confirm`), so a woken worker writes nothing to a run the
reaper ended meanwhile. While the database cannot be reached at all nobody can take a run (the
reaper waits for the database too), so the lease holds through an outage.

Database calls (`db`) retry through an outage of up to DB_OUTAGE_SECONDS, with a bounded backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection

from console.core import database
from console.engine import partial
from console.events import stream
from console.runs import lifecycle

log = logging.getLogger(__name__)

T = TypeVar("T")

CANCEL_CHECK_SECONDS = 0.25
BLOCKING_THREADS = 4
TOOL_THREADS = 64

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
_blocking = ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="engine-db")
_tools = ThreadPoolExecutor(TOOL_THREADS, thread_name_prefix="engine-tool")


def release_db() -> None:
    """Hands a pooled database connection back; with PostgreSQL's pool, threads then share a few."""
    if connection.settings_dict.get("OPTIONS", {}).get("pool"):
        connection.close()


def _call(fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    try:
        return fn(*args)
    finally:
        release_db()


async def blocking(fn: Callable[..., T], *args: Any) -> T:
    """Runs a short blocking call (the ORM, Redis flushes, tokenising) off the loop."""
    return await asyncio.get_running_loop().run_in_executor(_blocking, _call, fn, args)


UNREACHABLE = database.UNREACHABLE
database_away = database.unreachable


def _call_db(fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    try:
        return fn(*args)
    except UNREACHABLE:
        database.drop_broken_connections()
        raise
    finally:
        release_db()


async def db(fn: Callable[..., T], *args: Any) -> T:
    """`blocking` for database work that must survive an outage: retried while the database is
    unreachable, 0.1 s doubling to 2 s, for up to DB_OUTAGE_SECONDS; then the error is raised."""
    started = time.monotonic()
    delay = 0.1
    while True:
        try:
            result = await asyncio.get_running_loop().run_in_executor(_blocking, _call_db, fn, args)
        except UNREACHABLE as exc:
            _health.failed()
            if time.monotonic() - started >= settings.DB_OUTAGE_SECONDS:
                raise
            log.warning("the database is unreachable (%s); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            continue
        _health.answered()
        return result


async def tool(fn: Callable[..., T], *args: Any) -> T:
    """Runs a long blocking call (the sandbox, a search) off the loop, on its own pool."""
    return await asyncio.get_running_loop().run_in_executor(_tools, _call, fn, args)


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (uvicorn[standard] brings it on Linux and macOS): its callbacks,
    timers and socket reads cost less per token than asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _get_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            stream.set_fence(owned_now)
            loop = _new_loop()
            threading.Thread(target=loop.run_forever, name="engine-loop", daemon=True).start()
            _loop = loop
        return _loop


def responsive(timeout: float) -> bool:
    """Whether the engine loop (if this process started one) runs a callback within timeout seconds."""
    with _loop_lock:
        found = _loop
    if found is None or found.is_closed():
        return True
    done = threading.Event()
    found.call_soon_threadsafe(done.set)
    return done.wait(timeout)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Runs coro on the engine loop and waits for it (called from a Celery task thread)."""
    return asyncio.run_coroutine_threadsafe(coro, _get_loop()).result()


# -- liveness -------------------------------------------------------------------------------------


class _Health:
    """Whether this process can reach the database: failing since when, and the loop's last tick."""

    def __init__(self) -> None:
        self.failing = False
        self.tick = time.monotonic()
        # When the heartbeat in flight started (monotonic), None when none is.
        self.heartbeat_since: float | None = None

    def failed(self) -> None:
        self.failing = True

    def answered(self) -> None:
        self.failing = False

    def outage(self) -> bool:
        """The database is away for this process (and the loop is running, not stopped or starved):
        a call failed for it, or the heartbeat has waited on it for more than 3 s."""
        now = time.monotonic()
        if now - self.tick >= 2.0:
            return False
        pending = self.heartbeat_since is not None and now - self.heartbeat_since > 3.0
        return self.failing or pending


_health = _Health()


def _lease_seconds() -> float:
    return max(1.0, settings.RUN_HEARTBEAT_TIMEOUT - settings.RUN_HEARTBEAT_SECONDS)


@dataclass
class Watch:
    """What the monitor knows about one run this process holds."""

    run_id: str
    task: asyncio.Task[Any] | None
    cancelled: bool = False
    abandoned: bool = False
    # True while the run only waits on the model: a cancel may then interrupt it at once.
    interruptible: bool = False
    interrupted: bool = False
    # When (monotonic) a heartbeat started that read the run back as executing: the lease's start.
    confirmed_at: float = field(default_factory=time.monotonic)

    def lease_expired(self) -> bool:
        """True when the run may have been taken away meanwhile: ask the database before writing."""
        if time.monotonic() - self.confirmed_at < _lease_seconds():
            return False
        return not _health.outage()


def confirm(run_ids: list[str]) -> set[str]:
    """On a database thread (or the publisher's): which of run_ids this process still executes,
    asked of the database. Runs found taken away are flagged abandoned; on an outage every run is
    kept (nobody can take it while the database is away)."""
    started = time.monotonic()
    try:
        statuses = lifecycle.heartbeat_many(run_ids)
    except UNREACHABLE:
        _health.failed()
        return set(run_ids)
    finally:
        release_db()
    _health.answered()
    owned = {run_id for run_id in run_ids if statuses.get(run_id) in lifecycle.WORKING}
    for run_id in run_ids:
        found = _watches.get(run_id)
        if found is None:
            continue
        if run_id in owned:
            found.confirmed_at = max(found.confirmed_at, started)
        else:
            found.abandoned = True
    return owned


def owned_now(run_ids: set[str]) -> set[str]:
    """The event publisher's fence: of the runs whose events it is about to send, those it must
    not (runs this process executes whose lease ran out and which the database says are no longer
    ours). Runs this process does not execute (the API's, the reaper's) are not its to judge."""
    stale = [run_id for run_id in run_ids if (found := _watches.get(run_id)) and found.lease_expired()]
    if not stale:
        return set()
    return set(stale) - confirm(stale)


_watches: dict[str, Watch] = {}
_monitor: asyncio.Task[None] | None = None


@contextlib.contextmanager
def watch(run_id: str) -> Iterator[Watch]:
    """Registers the current task's run with the monitor for as long as the block runs."""
    global _monitor
    found = Watch(run_id, asyncio.current_task())
    _watches[run_id] = found
    if _monitor is None or _monitor.done():
        _monitor = asyncio.get_running_loop().create_task(_monitor_loop())
    try:
        yield found
    finally:
        _watches.pop(run_id, None)


def _tick() -> None:
    """Every 0.5 s while runs are held: shows the loop is running (a stopped process shows a gap)."""
    _health.tick = time.monotonic()
    if _watches:
        asyncio.get_running_loop().call_later(0.5, _tick)


async def _monitor_loop() -> None:
    _tick()
    next_heartbeat = time.monotonic() + settings.RUN_HEARTBEAT_SECONDS
    next_save = time.monotonic() + settings.RUN_PARTIAL_SAVE_SECONDS
    while _watches:
        await asyncio.sleep(CANCEL_CHECK_SECONDS)
        ids = list(_watches)
        if not ids:
            break
        # Each check on its own: Redis being away must not stop the heartbeats (in the database),
        # or the reaper would take runs that are alive.
        try:
            for run_id in await blocking(stream.cancel_requested_many, ids):
                _flag(run_id, cancelled=True)
        except Exception as exc:
            log.warning("run cancel check failed; retrying (%r)", exc)
        if time.monotonic() >= next_heartbeat:
            # While the database is away, tried every second: runs are confirmed as soon as it is back.
            interval = settings.RUN_HEARTBEAT_SECONDS if await _heartbeat(ids) else 1.0
            next_heartbeat = time.monotonic() + min(interval, settings.RUN_HEARTBEAT_SECONDS)
        if time.monotonic() >= next_save:
            next_save = time.monotonic() + settings.RUN_PARTIAL_SAVE_SECONDS
            taken = partial.take()
            try:
                if taken:
                    await blocking(partial.write, partial.contents(taken))
            except Exception as exc:
                partial.restore(taken)  # written at the next interval, with what came meanwhile
                if database_away(exc):
                    _health.failed()
                    log.warning(
                        "saving streamed text failed: the database is unreachable (%s); retrying", exc
                    )
                else:
                    log.exception("saving streamed text failed; retrying")


async def _heartbeat(ids: list[str]) -> bool:
    """Marks the runs alive and flags those cancelled or taken away; False if the database is away."""
    started = time.monotonic()
    _health.heartbeat_since = started
    try:
        statuses = await asyncio.get_running_loop().run_in_executor(
            _blocking, _call_db, lifecycle.heartbeat_many, (ids,)
        )
    except UNREACHABLE as exc:
        _health.failed()
        log.warning("run heartbeat failed: the database is unreachable (%s); retrying", exc)
        return False
    except Exception:
        log.exception("run heartbeat failed; retrying")
        return True
    finally:
        _health.heartbeat_since = None
    _health.answered()
    for run_id in ids:
        status = statuses.get(run_id)
        if status == "cancelling":
            _flag(run_id, cancelled=True)
        elif status not in lifecycle.WORKING:
            _flag(run_id, abandoned=True)
        if status in lifecycle.WORKING and (found := _watches.get(run_id)):
            found.confirmed_at = max(found.confirmed_at, started)
    return True


def _flag(run_id: str, *, cancelled: bool = False, abandoned: bool = False) -> None:
    found = _watches.get(run_id)
    if found is None:
        return
    found.cancelled = found.cancelled or cancelled
    found.abandoned = found.abandoned or abandoned
    if found.interruptible and not found.interrupted and found.task is not None:
        found.interrupted = True
        found.task.cancel()
