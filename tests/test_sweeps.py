"""Beat's sweeps run in threads of their own, again and again, and survive a failing pass."""

from __future__ import annotations

import threading

from console.core import sweeps
from tests.waiting import wait_until


def test_a_sweep_runs_repeatedly_and_survives_an_exception():
    passes: list[int] = []
    lock = threading.Lock()

    def sweep() -> None:
        with lock:
            passes.append(len(passes))
        if len(passes) == 2:
            raise RuntimeError("a bug in one pass")

    thread = sweeps.start("test-sweep", lambda: 0.01, sweep)
    assert thread.daemon and thread.name == "test-sweep"
    wait_until(lambda: len(passes) >= 4, what="four passes, one of them failing")
    assert thread.is_alive()
