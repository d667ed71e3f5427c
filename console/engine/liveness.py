"""The worker's liveness probe for a supervisor: a file whose mtime says the worker is alive.

When LIVENESS_FILE is set (console/launcher.py sets it for the worker it supervises), a thread
touches that file every LIVENESS_INTERVAL seconds, but only after the engine loop, if this process
has one, ran a callback within LIVENESS_LOOP_TIMEOUT: a stopped (SIGSTOP) or wedged worker stops
touching it, and the supervisor restarts a worker whose file is older than its bound.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from console.engine import loop

log = logging.getLogger(__name__)

LIVENESS_INTERVAL = 2.0
LIVENESS_LOOP_TIMEOUT = 5.0


def start_probe() -> threading.Thread | None:
    path = os.environ.get("LIVENESS_FILE", "").strip()
    if not path:
        return None
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)

    def run() -> None:
        while True:
            if loop.responsive(LIVENESS_LOOP_TIMEOUT):
                try:
                    target.touch()
                except OSError as exc:
                    log.warning("could not touch the liveness file %s: %s", target, exc)
            else:
                log.warning("the engine loop did not answer within %g s", LIVENESS_LOOP_TIMEOUT)
            time.sleep(LIVENESS_INTERVAL)

    thread = threading.Thread(target=run, name="liveness-probe", daemon=True)
    thread.start()
    return thread
