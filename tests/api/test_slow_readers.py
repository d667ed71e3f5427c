"""Slow SSE readers cost only themselves: 200 clients that never read a run's events leave the web
process's memory bounded, other requests and a reading stream are served, the run completes, and the
stalled connections are cut (their memory returned). Real sockets against a web process of its own."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from tests.fakeprovider import Text
from tests.runs.helpers import new_assistant, new_thread, read_events, wait_for_status
from tests.waiting import wait_until
from tests.webproc import web_process

pytestmark = pytest.mark.timeout(300)

READERS = 200
# The bound this test holds the web process to while they stall (docs/benchmarks.md measures it).
MEMORY_BOUND = 150 << 20


def _stalled_reader(host: str, port: int, path: str, key: str) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a client that hardly takes anything
    sock.connect((host, port))
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        "OpenAI-Beta: assistants=v2\r\n\r\n".encode()
    )
    return sock


def test_it_keeps_stalled_sse_readers_from_taking_the_server_down(api, owner, provider, settings):
    settings.RUN_STREAM_COALESCE_MS = 0
    # About 6 MB of events: what 200 readers held in memory before, over 1 GB.
    provider.script(Text("", chunks=["x" * 1500] * 4000, delay=0.001))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    with web_process(WEB_SEND_TIMEOUT="3", SSE_READER_BUFFER_BYTES=str(256 << 10)) as web:
        baseline = web.rss_bytes()
        run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
        path = f"/v1/threads/{thread_id}/runs/{run['id']}/events"
        readers = [_stalled_reader(web.host, web.port, path, owner.key) for _ in range(READERS)]
        peak = baseline
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.wait(0.05):
                try:
                    peak = max(peak, web.rss_bytes())
                except (OSError, AssertionError):
                    return

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            headers = {"Authorization": f"Bearer {owner.key}", "OpenAI-Beta": "assistants=v2"}
            with httpx.Client(base_url=web.url, headers=headers, timeout=60) as client:
                # A reader that reads gets every event, to the end.
                with client.stream("GET", path) as r:
                    events = read_events(r)
                assert events[-1] == ("done", "[DONE]") and events[-2][0] == "thread.run.completed"
                streamed = sum(
                    len(part["text"]["value"])
                    for name, data in events
                    if name == "thread.message.delta"
                    for part in data["delta"]["content"]
                )
                assert streamed == 1500 * 4000
                # Other requests are served meanwhile.
                assert client.get("/v1/assistants").status_code == 200
            assert (
                wait_for_status(api, thread_id, run["id"], {"completed"}, timeout=60)["status"] == "completed"
            )
            # The stalled readers are cut (WEB_SEND_TIMEOUT), and the server lets their sockets go.
            # (The process's sockets: what the kernel still keeps of the ones it closed is not its.)
            wait_until(lambda: web.open_sockets() < READERS // 4, timeout=60, what="stalled readers cut")
        finally:
            stop.set()
            sampler.join()
            for sock in readers:
                sock.close()
        assert peak - baseline < MEMORY_BOUND, f"grew by {(peak - baseline) >> 20} MB"
