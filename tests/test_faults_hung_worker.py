"""A hung worker, not a dead one: the product started as `make run` starts it, with ONE worker, which
is stopped with SIGSTOP while runs stream.

- Its runs are reaped within 30 s all the same: the reaper runs in beat's own thread, not in the
  queue the hung worker holds.
- Woken (SIGCONT) after that, it writes nothing more to those runs: no event, no row.
- Stopped again and left stopped, the launcher sees it stop answering its liveness probe and
  restarts it; the new worker executes runs.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tests.fakeprovider import FakeProvider, Text
from tests.test_faults import QUICK, TERMINAL, Product, _assistant_text, _start_runs, _wait, launched

# 1,500 words at 40 ms: a run streams for a minute, well past the reaper's bound.
LONG = Text(" ".join(f"h{i}" for i in range(1500)), delay=0.04)
LIVENESS_TIMEOUT = 40


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    provider = FakeProvider(default=LONG, record=False)
    with launched(
        provider,
        tmp_path_factory.mktemp("hung") / "var",
        WEB_CONCURRENCY="1",
        WORKER_CONCURRENCY="10",
        WORKER_LIVENESS_TIMEOUT=str(LIVENESS_TIMEOUT),
    ) as found:
        yield found


def _snapshot(api: httpx.Client, events: redis.Redis, thread_id: str, run_id: str) -> dict[str, Any]:
    """Everything a woken worker could still write for a run: its row, steps, messages, events."""
    return {
        "run": api.get(f"threads/{thread_id}/runs/{run_id}").json(),
        "steps": api.get(f"threads/{thread_id}/runs/{run_id}/steps").json()["data"],
        "messages": api.get(f"threads/{thread_id}/messages").json()["data"],
        "events": events.xrange(f"run:{run_id}:events"),
    }


def _stream_ended(events: redis.Redis, run_id: str) -> bool:
    newest = events.xrevrange(f"run:{run_id}:events", count=1)
    return bool(newest) and newest[0][1].get(b"f") == b"1"


@pytest.mark.timeout(300)
def test_it_reaps_the_runs_of_a_hung_only_worker_and_the_woken_worker_writes_nothing(product: Product):
    events = redis.Redis(port=product.redis_port)
    with product.api() as api:
        runs = _start_runs(api, 2)
        for thread_id, _ in runs:
            _wait(lambda t=thread_id: (found := _assistant_text(api, t)) and found[1], 30, "partial text")
        worker = product.pids("worker")[-1]
        os.kill(worker, signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            for thread_id, run_id in runs:
                run = _wait(
                    lambda t=thread_id, r=run_id: (
                        (got := api.get(f"threads/{t}/runs/{r}").json())["status"] in TERMINAL and got
                    ),
                    max(1.0, stopped_at + 35 - time.monotonic()),
                    f"run {run_id} to be reaped within 35 s of the hang",
                )
                assert run["status"] == "failed", run
                assert "stopped responding" in run["last_error"]["message"], run["last_error"]
                print(f"\nrun {run_id} reaped {time.monotonic() - stopped_at:.1f} s after the SIGSTOP")
                _wait(lambda r=run_id: _stream_ended(events, r), 10, "the reaper's events")
            before = {run_id: _snapshot(api, events, t, run_id) for t, run_id in runs}
            for snapshot in before.values():
                (message,) = [m for m in snapshot["messages"] if m["role"] == "assistant"]
                assert message["status"] == "incomplete" and message["content"][0]["text"]["value"]
        finally:
            os.kill(worker, signal.SIGCONT)
        # The woken worker takes work again (so its engine loop has run since it woke)...
        product.provider.default = QUICK
        ((thread_id, run_id),) = _start_runs(api, 1)
        _wait(
            lambda: api.get(f"threads/{thread_id}/runs/{run_id}").json()["status"] == "completed",
            30,
            "a new run on the woken worker",
        )
        assert product.pids("worker")[-1] == worker  # the same process: it was not restarted
        # ... and wrote nothing to the runs the reaper ended: no event, no step, no message change.
        for t, reaped in runs:
            assert _snapshot(api, events, t, reaped) == before[reaped]
    events.close()


@pytest.mark.timeout(300)
def test_it_restarts_a_worker_that_stops_answering_its_liveness_probe(product: Product):
    worker = product.pids("worker")[-1]
    os.kill(worker, signal.SIGSTOP)
    stopped_at = time.monotonic()
    line = product.wait_line(
        rf"^worker \(pid {worker}\) stopped answering its liveness probe", LIVENESS_TIMEOUT + 15
    )
    assert "no sign of life" in line
    print(f"\nthe hung worker was killed {time.monotonic() - stopped_at:.1f} s after the SIGSTOP")
    product.wait_line(rf"^worker \(pid {worker}\) died: killed by signal SIGKILL", 10)
    _wait(lambda: len(product.pids("worker")) >= 2, 30, "the worker to be restarted")
    product.provider.default = QUICK
    with product.api() as api:
        ((thread_id, run_id),) = _start_runs(api, 1)
        _wait(
            lambda: api.get(f"threads/{thread_id}/runs/{run_id}").json()["status"] == "completed",
            60,
            "a run on the restarted worker",
        )
    assert product.process.poll() is None
