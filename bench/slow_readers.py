"""Slow SSE readers (issue 26): what 200 clients that never read a run's events cost one web process.

    .venv/bin/python bench/slow_readers.py [--readers 200] [--megabytes 6]

A fresh SQLite database under a temporary VAR_DIR, a private redis-server, and one web process as
`make run` starts it (`python -m console.webserver`). A run is created over HTTP (no worker takes it)
and this script writes its events straight into its Redis stream with the product's own writer:
`--megabytes` of message deltas, then the final `done`. `--readers` sockets ask for
`GET …/runs/{id}/events` and never read. Printed: the web process's RSS before, at its peak while
they stall, and 10 s after they are closed; p50/p95 of GET /v1/assistants (sequential, 100 each)
before and while they stall; and how many stalled connections the server had cut when the events
were all written. To compare with an older commit, run this file from a `git archive` of it.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def latencies(client: httpx.Client, count: int = 100) -> tuple[float, float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        assert client.get("/v1/assistants").status_code == 200
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--megabytes", type=float, default=6)
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="bench-slow-readers-"))
    os.environ.update(VAR_DIR=str(var), DATABASE_URL="", DJANGO_SETTINGS_MODULE="console.settings")
    from console.launcher import find_redis_server, start_private_redis

    redis_binary = find_redis_server()
    assert redis_binary, "redis-server is needed"
    redis_process, redis_url = start_private_redis(redis_binary, var / "redis")
    os.environ["REDIS_URL"] = redis_url
    env = {**os.environ, "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    key = (
        subprocess.run(
            [sys.executable, "manage.py", "create_api_key", "--project", "bench"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )

    import django

    django.setup()
    from console.events import stream

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    web = subprocess.Popen(
        [sys.executable, "-m", "console.webserver", "--fd", str(listener.fileno())],
        cwd=ROOT,
        env=env,
        pass_fds=(listener.fileno(),),
    )
    listener.close()
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}", "OpenAI-Beta": "assistants=v2"}
    readers: list[socket.socket] = []
    try:
        client = httpx.Client(base_url=url, headers=headers, timeout=60)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.get("/v1/assistants")
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the web process did not start"
                time.sleep(0.1)
        assistant = client.post("/v1/assistants", json={"model": "bench-model"}).json()["id"]
        thread = client.post("/v1/threads", json={}).json()["id"]
        run = client.post(f"/v1/threads/{thread}/runs", json={"assistant_id": assistant}).json()["id"]
        latencies(client, 20)  # warm up
        before = rss(web.pid)
        p50_idle, p95_idle = latencies(client)

        path = f"/v1/threads/{thread}/runs/{run}/events"
        for _ in range(args.readers):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
            )
            readers.append(sock)

        peak = before
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.wait(0.05):
                peak = max(peak, rss(web.pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        delta = {
            "id": "msg_bench",
            "object": "thread.message.delta",
            "delta": {
                "content": [{"index": 0, "type": "text", "text": {"value": "x" * 1500, "annotations": []}}]
            },
        }
        events = int(args.megabytes * (1 << 20) / 1600)
        written = 0
        measured: tuple[float, float] | None = None
        while written < events:
            stream.publish_now(run, [("thread.message.delta", delta)] * 100)
            written += 100
            if measured is None and written >= events // 3:
                measured = latencies(client)
        stream.publish_now(run, [], end=True)
        time.sleep(5)
        alive = 0
        for sock in readers:
            sock.setblocking(False)
            try:
                while sock.recv(65536):
                    pass
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        for sock in readers:
            sock.close()
        time.sleep(10)
        stop.set()
        sampler.join()
        after = rss(web.pid)
        p50_busy, p95_busy = measured or (0.0, 0.0)
        mb = 1 << 20
        print(f"readers: {args.readers}, events: {written} ({args.megabytes:g} MB per reader)")
        print(
            f"web RSS: before {before / mb:.0f} MB, peak {peak / mb:.0f} MB, 10 s after close {after / mb:.0f} MB"
        )
        print(
            f"GET /v1/assistants p50/p95: idle {p50_idle:.1f}/{p95_idle:.1f} ms, stalled readers {p50_busy:.1f}/{p95_busy:.1f} ms"
        )
        print(f"stalled connections still open 5 s after the last event: {alive} of {args.readers}")
    finally:
        for sock in readers:
            sock.close()
        web.terminate()
        web.wait(timeout=15)
        redis_process.terminate()
        redis_process.wait(timeout=10)


if __name__ == "__main__":
    main()
