"""The web process's shared reader alone: CPU its event loop spends handing out run events.

    .venv/bin/python bench/hub_read.py [--streams 200] [--events 200]

A private redis-server is started. One reader per stream tails it (as an SSE response does); a
separate thread writes one event to every stream per wave, a wave every 5 ms (like that many runs
streaming at once), then a final `done`. Printed: events delivered, wall time, and the CPU seconds
of the event loop's thread (reading, parsing, handing out), which is what the hub costs.

To compare with an older commit: `git archive <commit> | tar -x -C DIR`, link `.venv`, and run
this file with `PYTHONPATH=DIR` from DIR (older code has `tail` in console.events.stream).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402

from console.launcher import find_redis_server, start_private_redis  # noqa: E402

PAYLOAD = (
    b'{"id":"msg_x","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text",'
    b'"text":{"value":"tok ","annotations":[]}}]}}'
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    binary = find_redis_server()
    assert binary, "redis-server is needed"
    process, url = start_private_redis(binary, Path(tempfile.mkdtemp(prefix="bench-hub-")))
    settings.REDIS_URL = url
    try:
        from console.events import stream

        tail = getattr(stream, "tail", None)
        if tail is None:
            from console.events import hub

            tail = hub.tail
        tag = secrets.token_hex(3)
        writer_client = redis.Redis.from_url(url)

        def writer() -> None:
            for i in range(args.events):
                pipe = writer_client.pipeline(transaction=False)
                for s in range(args.streams):
                    pipe.xadd(f"run:hb{tag}{s}:events", {"e": "thread.message.delta", "d": PAYLOAD})
                    if i == args.events - 1:
                        pipe.xadd(f"run:hb{tag}{s}:events", {"e": "done", "d": "[DONE]", "f": "1"})
                pipe.execute()
                time.sleep(0.005)

        async def read(s: int) -> int:
            count = 0
            async for batch in tail(f"hb{tag}{s}"):
                count += len(batch)
            return count

        async def run() -> tuple[int, float, float]:
            readers = [asyncio.ensure_future(read(s)) for s in range(args.streams)]
            await asyncio.sleep(0.5)  # every reader has joined
            thread = threading.Thread(target=writer)
            cpu, wall = time.thread_time(), time.monotonic()
            thread.start()
            counts = await asyncio.gather(*readers)
            cpu, wall = time.thread_time() - cpu, time.monotonic() - wall
            thread.join()
            return sum(counts), wall, cpu

        events, wall, cpu = asyncio.run(run())
        print(
            f"events {events}  wall {wall:.2f} s  event-loop thread CPU {cpu:.3f} s  ({cpu / events * 1e6:.1f} us/event)"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
