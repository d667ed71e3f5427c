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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection

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
            loop = _new_loop()
            threading.Thread(target=loop.run_forever, name="engine-loop", daemon=True).start()
            _loop = loop
        return _loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Runs coro on the engine loop and waits for it (called from a Celery task thread)."""
    return asyncio.run_coroutine_threadsafe(coro, _get_loop()).result()


# -- liveness -------------------------------------------------------------------------------------


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


async def _monitor_loop() -> None:
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
            next_heartbeat = time.monotonic() + settings.RUN_HEARTBEAT_SECONDS
            try:
                statuses = await blocking(lifecycle.heartbeat_many, ids)
            except Exception:
                log.exception("run heartbeat failed; retrying")
            else:
                for run_id in ids:
                    status = statuses.get(run_id)
                    if status == "cancelling":
                        _flag(run_id, cancelled=True)
                    elif status not in lifecycle.WORKING:
                        _flag(run_id, abandoned=True)
        if time.monotonic() >= next_save:
            next_save = time.monotonic() + settings.RUN_PARTIAL_SAVE_SECONDS
            try:
                contents = partial.take()
                if contents:
                    await blocking(partial.write, contents)
            except Exception:
                log.exception("saving streamed text failed; retrying")


def _flag(run_id: str, *, cancelled: bool = False, abandoned: bool = False) -> None:
    found = _watches.get(run_id)
    if found is None:
        return
    found.cancelled = found.cancelled or cancelled
    found.abandoned = found.abandoned or abandoned
    if found.interruptible and not found.interrupted and found.task is not None:
        found.interrupted = True
        found.task.cancel()
