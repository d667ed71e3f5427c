"""The fake provider of tests/fakeprovider.py, recording per request when it arrived and when it streamed.

    .venv/bin/python bench/_runs_provider.py --port 9100 --tokens 200 --interval-ms 20 --record /tmp/p.jsonl

Used by bench/runs.py. Every chat request whose body holds a marker `BMK<n>X` (the bench puts one in
each thread's message) adds one JSON line to --record:
    {"m": "<n>", "arrived": t, "first": t, "last": t, "chunks": k}
where the times are time.monotonic() (CLOCK_MONOTONIC, so comparable with other processes on the host):
`arrived` when the request started, `first` just before the first content chunk was handed to the
socket, `last` just before the final chunk (finish_reason, usage, [DONE]) was.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import IO, Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakeprovider import FakeProvider, Message, Receive, Scope, Send, Text  # noqa: E402

MARKER = re.compile(rb"BMK(\d+)X")


class RecordingProvider(FakeProvider):
    def __init__(self, out: IO[bytes], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out = out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        arrived = time.monotonic()
        raw = bytearray()
        times: list[float] = []

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                raw.extend(message.get("body", b""))
            return message

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                times.append(time.monotonic())
            await send(message)

        try:
            await super().__call__(scope, recording_receive, recording_send)
        finally:
            found = MARKER.search(raw)
            if found and times:
                line = {
                    "m": found.group(1).decode(),
                    "arrived": arrived,
                    "first": times[0],
                    "last": times[-1],
                    "chunks": len(times),
                }
                self.out.write(orjson.dumps(line) + b"\n")
                self.out.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument("--record", required=True, help="JSON-lines file to append one line per request to")
    args = parser.parse_args()
    chunks = [f" tok{i}" for i in range(args.tokens)]
    reply = Text("".join(chunks), chunks=chunks, delay=args.interval_ms / 1000.0)
    with open(args.record, "ab") as out:
        provider = RecordingProvider(
            out, host=args.host, port=args.port, default=reply, record=False, start=False
        )
        print(f"fake provider serving {provider.base_url}", flush=True)
        provider.serve_forever()


if __name__ == "__main__":
    main()
