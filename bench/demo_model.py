"""The built-in demo model's speed: server start, first token and decode tokens/s, memory.

.venv/bin/python bench/demo_model.py [--requests 5] [--max-tokens 200]

Starts the llama.cpp server as `make run` does (console/demo_model.py), sends streamed chat
completions one after another (a ~300-token prompt each), and prints the median and worst figures.
Each streamed chunk of llama-cpp-python's server is one token. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from console import demo_model  # noqa: E402

PROMPT = " ".join(
    ["Paris is the capital of France, on the Seine, known for its museums, cafes and long history."] * 16
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args()
    started = time.monotonic()
    server = demo_model.start(Path(tempfile.mkdtemp(prefix="bench-demo-")) / "server.log")
    try:
        assert demo_model.wait_ready(server, 120), "server did not start"
        print(f"server ready in {time.monotonic() - started:.2f} s ({demo_model.threads()} threads)")
        headers = {"Authorization": f"Bearer {server.api_key}"}
        body = {
            "model": "demo",
            "stream": True,
            "max_tokens": args.max_tokens,
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": PROMPT + "\n\nWrite a long story about Paris."},
            ],
        }
        firsts, rates = [], []
        with httpx.Client(timeout=300) as client:
            for index in range(args.requests):
                # A different first line each time: the server would reuse a cached prompt prefix.
                body["messages"][0]["content"] = f"Request {index}. You are a helpful assistant."
                sent = time.monotonic()
                first = None
                tokens = 0
                with client.stream(
                    "POST", f"{server.base_url}/chat/completions", json=body, headers=headers
                ) as r:
                    for line in r.iter_lines():
                        if not line.startswith("data: ") or line == "data: [DONE]":
                            continue
                        delta = json.loads(line[6:])["choices"][0]["delta"]
                        if delta.get("content"):
                            tokens += 1
                            if first is None:
                                first = time.monotonic()
                done = time.monotonic()
                assert first is not None
                firsts.append(first - sent)
                rates.append((tokens - 1) / max(done - first, 1e-6))
        rss = (
            int(Path(f"/proc/{server.process.pid}/status").read_text().split("VmRSS:")[1].split()[0]) // 1024
        )
        print("first token (s):", " ".join(f"{f:.2f}" for f in firsts))
        print("decode (tokens/s):", " ".join(f"{r:.0f}" for r in rates))
        print(f"first token: median {statistics.median(firsts):.2f} s, worst {max(firsts):.2f} s")
        print(f"decode: median {statistics.median(rates):.0f} tokens/s, worst {min(rates):.0f} tokens/s")
        print(f"server RSS: {rss} MB; load average {os.getloadavg()[0]:.1f}")
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)


if __name__ == "__main__":
    main()
