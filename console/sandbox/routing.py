"""Which worker process holds a thread's code_interpreter session, and how to reach it.

A session lives in the memory of one worker process, so a thread's code must run there for as long
as the session lives. Each Celery worker consumes, besides the shared queue, a queue of its own
(`sandbox.<node>.<pid>.<random>`, added at start-up by console/celery.py) and keeps a liveness key
for it in Redis. After a call, the process that ran it records itself as the thread's owner
(`sandbox:thread:<id>`, with SANDBOX_IDLE_TIMEOUT as its TTL, like the session itself). A later
call anywhere else sends the code to the owner's queue and waits for the answer on a reply list.
When the owner's liveness key is gone (the worker died), the call runs wherever the run is, in a new
session, and the caller tells the model that the state was reset.

Redis is reached through console/events/stream.py's client (the one Redis connection pool).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import Any

import orjson
from celery import current_app
from django.conf import settings

from console.events.stream import client

log = logging.getLogger(__name__)

TASK_NAME = "console.engine.code_tasks.run_code_in_session"
# A worker refreshes its liveness key every ALIVE_EVERY seconds; it lapses ALIVE_TTL after a crash.
ALIVE_EVERY = 2.0
ALIVE_TTL = 6
REPLY_TTL = 600
# Waiting for a remote call, the owner's liveness is checked this often.
POLL_SECONDS = 1

_own_queue: str | None = None
_stop = threading.Event()


def _thread_key(thread_id: str) -> str:
    return f"sandbox:thread:{thread_id}"


def _alive_key(queue: str) -> str:
    return f"sandbox:alive:{queue}"


def own_queue() -> str | None:
    """This process's own queue, when it is a Celery worker started with one."""
    return _own_queue


def start_worker_queue(nodename: str) -> str:
    """Names this worker process's own queue and keeps it marked alive until the process ends."""
    global _own_queue
    _own_queue = f"sandbox.{nodename}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    queue = _own_queue
    client().set(_alive_key(queue), b"1", ex=ALIVE_TTL)

    def beat() -> None:
        while not _stop.wait(ALIVE_EVERY):
            try:
                client().set(_alive_key(queue), b"1", ex=ALIVE_TTL)
            except Exception:  # pragma: no cover - Redis away for a moment: try again next beat
                log.warning("sandbox: could not refresh the liveness of %s", queue, exc_info=True)

    threading.Thread(target=beat, name="sandbox-alive", daemon=True).start()
    return queue


def stop_worker_queue() -> None:
    """On a clean shutdown: the sessions end with the process, so nobody should wait for it."""
    _stop.set()
    if _own_queue is not None:
        client().delete(_alive_key(_own_queue))


def owner(thread_id: str) -> str | None:
    raw = client().get(_thread_key(thread_id))
    return raw.decode() if raw else None


def alive(queue: str) -> bool:
    return bool(client().exists(_alive_key(queue)))


def record_owner(thread_id: str) -> None:
    """After a call ran here: the thread's session lives in this process (if it has a queue)."""
    if _own_queue is not None:
        ttl = max(1, int(settings.SANDBOX_IDLE_TIMEOUT))
        client().set(_thread_key(thread_id), _own_queue.encode(), ex=ttl)


def forget_owner(thread_id: str, queue: str) -> None:
    """Drops the record, unless another process has meanwhile taken the thread over."""
    key = _thread_key(thread_id)
    if client().get(key) == queue.encode():
        client().delete(key)


def call(queue: str, run_id: str, code: str, timeout: float) -> dict[str, Any] | None:
    """Runs the code in the session held by `queue`'s worker; None when that worker is gone.

    The task goes to the worker's own queue; its answer comes back on a one-off reply list. While
    waiting, the owner's liveness is checked, so a worker killed mid-call is noticed within ALIVE_TTL.
    """
    reply_key = f"sandbox:reply:{uuid.uuid4().hex}"
    # The sandbox's own timeout ends the code; the margin covers copying files in and out.
    deadline = time.monotonic() + timeout + 60
    current_app.send_task(TASK_NAME, args=(run_id, code, reply_key), queue=queue, expires=timeout + 60)
    redis = client()
    while time.monotonic() < deadline:
        answer = redis.blpop([reply_key], timeout=POLL_SECONDS)
        if answer is not None:
            return orjson.loads(answer[1])
        if not alive(queue):
            log.warning("sandbox: the worker %s holding a session died during a call", queue)
            return None
    log.warning("sandbox: no answer from %s within %.0f s", queue, timeout + 60)
    return None


def reply(reply_key: str, payload: dict[str, Any]) -> None:
    redis = client()
    redis.rpush(reply_key, orjson.dumps(payload))
    redis.expire(reply_key, REPLY_TTL)
