"""Recovering from a database restart or failover: broken pooled connections are dropped at once.

A restarted PostgreSQL breaks every connection a pool holds. The pool tests a connection as it is
lent (CONN_HEALTH_CHECKS) but backs off between failed tests (1 s, 2 s, 4 s...), so a borrower
handed several broken ones in a row waits long past DB_POOL_TIMEOUT. So after a database error the
pool drops every connection it made before (`drain`: the idle ones at once, those in use when they
are returned); and web processes test their idle connections every POOL_CHECK_SECONDS
(console/asgi.py), draining likewise when one is broken, so a process that served no request
during the outage has none left to hand out when the database is back.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)

POOL_CHECK_SECONDS = 3.0

# Errors that say the database is unreachable (restarting, failing over), not that a query is wrong.
UNREACHABLE = (OperationalError, InterfaceError)


def unreachable(exc: BaseException) -> bool:
    return isinstance(exc, UNREACHABLE)


def _open_pool() -> Any:
    """This process's connection pool if it made one (PostgreSQL), else None."""
    pools = getattr(type(connection), "_connection_pools", None)
    return pools.get(connection.alias) if pools else None


def drop_broken_connections() -> None:
    """After a database error: every connection this process's pool (PostgreSQL) made so far is
    dropped: the idle ones now, those in use (a stream's, say) when they come back. A restart
    broke them all, and one that is only returned after it would look healthy until used."""
    pool = _open_pool()
    if pool is None:
        return
    try:
        pool.drain()
    except Exception as exc:  # the pool is closing, say: nothing to drop
        log.debug("could not drain the database pool: %r", exc)


def _check(pool: Any) -> None:
    """Tests the idle connections; if some were broken, the database restarted: drop the rest too."""
    lost = pool.get_stats().get("connections_lost", 0)
    pool.check()
    if pool.get_stats().get("connections_lost", 0) > lost:
        log.warning("the database pool found broken connections; dropping every older connection")
        pool.drain()


def start_pool_keeper(interval: float = POOL_CHECK_SECONDS) -> threading.Thread:
    """Tests the pool's idle connections every `interval` seconds, so a process that served nothing
    during an outage does not hand its first requests after it connections the restart broke."""

    def run() -> None:
        while True:
            time.sleep(interval)
            pool = _open_pool()
            if pool is None:
                continue
            try:
                _check(pool)
            except Exception as exc:  # the pool is closing, say
                log.debug("could not check the database pool: %r", exc)

    thread = threading.Thread(target=run, name="db-pool-keeper", daemon=True)
    thread.start()
    return thread
