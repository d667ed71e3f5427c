"""CPU per streamed token of the worker's provider read path (console.providers.chat.stream_chat).

    .venv/bin/python bench/runs_provider_read.py [--streams 200] [--tokens 200] [--interval-ms 20]

Starts the fake provider (tests/fakeprovider.py) as its own process, then reads N concurrent chat
streams on one asyncio loop in this process, as the worker's engine loop does, and prints this
process's CPU time per chunk (time.process_time: this process only, not the provider's).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    os.environ.setdefault("VAR_DIR", "/tmp/bench-provider-read")
    os.environ["LLM_BASE_URL"] = f"http://127.0.0.1:{port}/v1"
    os.environ["LLM_API_KEY"] = "sk-bench"
    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from console.providers.chat import stream_chat
    from console.providers.http import aclose_async_client

    provider = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakeprovider",
            "--port",
            str(port),
            "--tokens",
            str(args.tokens),
            "--interval-ms",
            str(args.interval_ms),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    async def one() -> int:
        count = 0
        async for chunks in stream_chat(
            {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
        ):
            count += len(chunks)
        return count

    async def run() -> None:
        started, cpu = time.monotonic(), time.process_time()
        counts = await asyncio.gather(*(one() for _ in range(args.streams)))
        cpu = time.process_time() - cpu
        await aclose_async_client()
        total = sum(counts)
        print(
            f"{args.streams} streams, {total} chunks, wall {time.monotonic() - started:.2f} s, "
            f"cpu {cpu:.2f} s: {cpu / total * 1e6:.1f} us per chunk"
        )

    try:
        time.sleep(2)  # the provider starts
        asyncio.run(run())
    finally:
        provider.terminate()


if __name__ == "__main__":
    main()
