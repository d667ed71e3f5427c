"""Micro-benchmark behind the runs bench's main recommendation: per-token XADD from each run thread
(what console/events/stream.publish does) versus one publisher thread per process that pipelines
whatever the run threads queued (group commit).

    .venv/bin/python bench/_xadd_micro.py --port 6390      # a private redis-server must listen there

T threads each publish E events paced every --interval-ms (like T runs streaming E tokens); reports
process CPU per event, wall time, and p50/p99 of enqueue-to-acknowledged latency.
"""

from __future__ import annotations

import argparse
import queue
import threading
import time

import orjson
import redis

PAYLOAD = {
    "id": "msg_" + "x" * 24,
    "object": "thread.message.delta",
    "delta": {"content": [{"index": 0, "type": "text", "text": {"value": " tok1", "annotations": []}}]},
}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def per_thread(r: redis.Redis, threads: int, events: int, interval: float) -> tuple[float, list[float]]:
    lat: list[float] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        mine = []
        due = time.monotonic()
        for _ in range(events):
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))
            t = time.monotonic()
            r.xadd(
                f"micro:{i}",
                {"e": "thread.message.delta", "d": orjson.dumps(PAYLOAD)},
                maxlen=100_000,
                approximate=True,
            )
            mine.append(time.monotonic() - t)
        with lock:
            lat.extend(mine)

    return _go(run, threads), lat


def batched(r: redis.Redis, threads: int, events: int, interval: float) -> tuple[float, list[float]]:
    q: queue.SimpleQueue[tuple[str, bytes, float] | None] = queue.SimpleQueue()
    lat: list[float] = []

    def publisher() -> None:
        while True:
            item = q.get()
            if item is None:
                return
            batch = [item]
            while True:
                try:
                    more = q.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    q.put(None)
                    break
                batch.append(more)
            pipe = r.pipeline(transaction=False)
            for key, data, _ in batch:
                pipe.xadd(key, {"e": "thread.message.delta", "d": data}, maxlen=100_000, approximate=True)
            pipe.execute()
            now = time.monotonic()
            lat.extend(now - t for _, _, t in batch)

    pub = threading.Thread(target=publisher)
    pub.start()

    def run(i: int) -> None:
        due = time.monotonic()
        for _ in range(events):
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))
            q.put((f"micro:{i}", orjson.dumps(PAYLOAD), time.monotonic()))

    wall = _go(run, threads)
    q.put(None)
    pub.join()
    return wall, lat


def _go(target: object, threads: int) -> float:
    workers = [threading.Thread(target=target, args=(i,)) for i in range(threads)]  # type: ignore[arg-type]
    t = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.monotonic() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=200)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    args = parser.parse_args()
    r = redis.Redis(port=args.port, max_connections=4096)
    for name, fn in (("per-thread XADD", per_thread), ("queued + pipelined", batched)):
        r.flushdb()
        cpu = time.process_time()
        wall, lat = fn(r, args.threads, args.events, args.interval_ms / 1000)
        cpu = time.process_time() - cpu
        n = args.threads * args.events
        print(
            f"{name:20s} events {n}  wall {wall:.2f} s (ideal {args.events * args.interval_ms / 1000:.2f})  "
            f"CPU {cpu:.2f} s = {cpu / n * 1e6:.0f} us/event  publish latency p50 {pct(lat, 0.5) * 1e3:.2f} ms "
            f"p99 {pct(lat, 0.99) * 1e3:.2f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
