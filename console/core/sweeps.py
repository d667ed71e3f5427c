"""Periodic sweeps in threads of the beat process: never in a queue that a hung worker could block.

A Celery task would wait in the workers' queue behind the very worker it must catch; a thread of
beat's own waits for nothing but the database. Beat starts them (console/celery.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections

log = logging.getLogger(__name__)


def start(name: str, interval: Callable[[], float], sweep: Callable[[], Any]) -> threading.Thread:
    """Runs `sweep` every `interval()` seconds in a daemon thread (it ends with beat).

    An exception is logged and the next sweep comes as usual: a bug must not stop sweeping for good.
    """

    def run() -> None:
        while True:
            time.sleep(interval())
            close_old_connections()
            try:
                sweep()
            except Exception:
                log.exception("the %s sweep failed; it runs again in %g s", name, interval())

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
