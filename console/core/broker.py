"""Celery's Redis transport and worker consumer, with kombu 5.7's reconnect faults handled.

kombu 5.7.0 (the newest release) crashes the worker when the broker connection drops while tasks
are in flight (acks_late): the worker closes its channel, which detaches the transport from its
connection and drops its connection pool, and then
- closing goes on to push the unacknowledged messages back onto their queues, and
- each task finishing later acknowledges its message on that same closed channel;
both need a new pool, built from `self.connection.client`, which is gone by then, so kombu raises
`AttributeError: 'NoneType' object has no attribute 'hostname'` (or `... 'client'`) instead of a
connection error, and Celery treats it as unrecoverable: the worker exits.

Here a channel keeps the connection parameters it was made with, so both steps work again: the
restore fails like any command while Redis is down (and is logged; the messages stay in Redis's
`unacked` set, which kombu puts back on their queues after the visibility timeout), and a late
acknowledgement after Redis returned removes its message from that set. Whatever still goes
missing is enqueued again from the database by the sweeper (console/runs/sweeper.py); claims are
compare-and-swap, so a second delivery does no harm.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from celery.worker.consumer import consumer
from kombu.transport import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)


class QoS(redis.QoS):
    def restore_unacked(self, client: Any = None) -> None:
        try:
            super().restore_unacked(client)
        except (AttributeError, RedisConnectionError, RedisTimeoutError, OSError) as exc:
            log.warning(
                "Redis is unreachable: %d unacknowledged message(s) stay in its unacked set (restored "
                "after the visibility timeout) (%r)",
                len(self._delivered),
                exc,
            )


class Channel(redis.Channel):
    QoS = QoS

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        known: dict[bool, dict[str, Any]] = self.__dict__.setdefault("_known_connparams", {})
        transport = self.connection
        if transport is None or transport.client is None:
            # Closed after its connection was lost: reach the same server as before.
            if asynchronous not in known:
                raise RedisConnectionError("The broker connection was closed.")
            return dict(known[asynchronous])
        params: dict[str, Any] = super()._connparams(asynchronous)
        known[asynchronous] = dict(params)
        return params


class Transport(redis.Transport):
    Channel = Channel


# The worker reconnects to the broker every RECONNECT_INTERVAL_MAX seconds at most while it is away
# (Celery's own schedule waits 2, 4, 6 ... 30 s, so a worker could come back 30 s after Redis did).
RECONNECT_INTERVAL_START = 0.5
RECONNECT_INTERVAL_STEP = 0.5
RECONNECT_INTERVAL_MAX = 2.0


class Consumer(consumer.Consumer):
    def ensure_connected(self, conn: Any) -> Any:
        # Celery passes no intervals to kombu's ensure_connection; give this connection ours.
        conn.ensure_connection = functools.partial(
            type(conn).ensure_connection,
            conn,
            interval_start=RECONNECT_INTERVAL_START,
            interval_step=RECONNECT_INTERVAL_STEP,
            interval_max=RECONNECT_INTERVAL_MAX,
        )
        try:
            return super().ensure_connected(conn)
        finally:
            del conn.ensure_connection
