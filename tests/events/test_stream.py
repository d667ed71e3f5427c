"""The run event log: every reader of a run's stream sees all of it from the start, however late it joins."""

from __future__ import annotations

import asyncio
import random
import threading
import time

from console.events import hub, stream


def _publish(run_id: str, count: int) -> None:
    for i in range(count):
        stream.publish(run_id, "thread.message.delta", {"i": i})
        if i % 20 == 0:
            stream.flush()
            time.sleep(0.002)
    stream.end_segment(run_id, final=True)


async def _read(run_id: str, delay: float) -> list[int]:
    await asyncio.sleep(delay)
    seen: list[int] = []
    async for batch in hub.tail(run_id):
        seen += [int(data.split(b":")[1].rstrip(b"}")) for event, data in batch if event != "done"]
    return seen


def test_readers_that_join_a_live_stream_late_see_it_from_the_start(redis_url: str) -> None:
    # Readers join while the shared read is busy handing out the events of earlier readers: each
    # must still get every event from the first, in order, exactly once.
    count = 1500
    run_ids = [f"run_latejoin{n}" for n in range(3)]
    rng = random.Random(4)

    async def main() -> list[list[int]]:
        publishers = [threading.Thread(target=_publish, args=(run_id, count)) for run_id in run_ids]
        for publisher in publishers:
            publisher.start()
        readers = [_read(run_id, rng.uniform(0, 0.4)) for run_id in run_ids for _ in range(12)]
        try:
            return await asyncio.wait_for(asyncio.gather(*readers), timeout=60)
        finally:
            for publisher in publishers:
                publisher.join()

    for seen in asyncio.run(main()):
        assert seen == list(range(count))
