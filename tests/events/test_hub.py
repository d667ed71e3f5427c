"""The shared reader: readers get every entry exactly once across dropped connections."""

from __future__ import annotations

import asyncio
import threading

from console.events import hub, stream
from tests.events.redis_fault import drop_clients


def _publish(run_id: str, count: int) -> None:
    for i in range(count):
        stream.publish(run_id, "thread.message.delta", {"i": i})
        if i % 50 == 0:
            stream.flush()
    stream.end_segment(run_id, final=True)


async def _read(run_id: str) -> list[int]:
    seen: list[int] = []
    async for batch in hub.tail(run_id):
        seen += [int(data.split(b":")[1].rstrip(b"}")) for event, data in batch if event != "done"]
    return seen


def test_it_resumes_every_reader_after_every_connection_is_dropped(redis_url: str) -> None:
    count = 3000
    run_ids = [f"run_hubkills{n}" for n in range(3)]
    stop = threading.Event()
    kills = 0

    def killer() -> None:
        nonlocal kills
        while not stop.wait(0.02):
            kills += drop_clients(redis_url)

    async def main() -> list[list[int]]:
        readers = [asyncio.ensure_future(_read(run_id)) for run_id in run_ids for _ in range(4)]
        await asyncio.sleep(0)
        publishers = [threading.Thread(target=_publish, args=(run_id, count)) for run_id in run_ids]
        for publisher in publishers:
            publisher.start()
        try:
            return await asyncio.wait_for(asyncio.gather(*readers), timeout=90)
        finally:
            for publisher in publishers:
                publisher.join()

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        results = asyncio.run(main())
    finally:
        stop.set()
        thread.join()
    assert kills > 0
    for seen in results:
        assert seen == list(range(count))
