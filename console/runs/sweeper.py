"""The reaper's clock, in the beat process: never in a queue a hung worker could block.

Beat starts `start()` (console/celery.py). Every RUN_REAPER_INTERVAL seconds a thread of beat's
own reaps runs (console/runs/services.py). A Celery task would wait in the workers' queue behind
the very worker it must catch; this thread waits for nothing but the database.

A database outage is not held against workers: while the database cannot be reached no worker
can write its heartbeat either, so after an outage dead runs are reaped only once the database
has answered for RUN_HEARTBEAT_TIMEOUT seconds, time for every live worker to heartbeat again.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connection

from console.core import database, sweeps
from console.runs import services

log = logging.getLogger(__name__)


class Reaper:
    def __init__(self) -> None:
        self.down = False
        # When the database answered again after an outage (monotonic), None before any outage.
        self.back_at: float | None = None

    def tick(self) -> dict[str, int] | None:
        """One pass; None when the database could not be reached."""
        now = time.monotonic()
        grace = self.back_at is not None and now - self.back_at < settings.RUN_HEARTBEAT_TIMEOUT
        try:
            counts = services.reap_runs(reap_dead=not self.down and not grace)
        except DatabaseError as exc:
            database.drop_broken_connections()
            if not self.down:
                log.warning("the reaper cannot reach the database (%s); dead runs wait until it is back", exc)
            self.down = True
            return None
        finally:
            connection.close()
        if self.down:
            log.warning(
                "the reaper reaches the database again; dead runs are reaped after %g s",
                settings.RUN_HEARTBEAT_TIMEOUT,
            )
            self.down = False
            self.back_at = now
        return counts


def start() -> threading.Thread:
    """Starts the reaper's thread in beat (console/core/sweeps.py)."""
    return sweeps.start("run-reaper", lambda: settings.RUN_REAPER_INTERVAL, Reaper().tick)
