"""Responses benchmark (issue 22): streamed responses at 200 concurrent clients, JSON ones at 16.

    .venv/bin/python bench/responses.py                       # SQLite, both phases
    .venv/bin/python bench/responses.py --db postgres         # a fresh PostgreSQL database
    .venv/bin/python bench/responses.py --streams 200 --clients 16 --requests 20

Starts the same stack as bench/runs.py (private Redis, fresh database, uvicorn, one Celery worker
with --pool threads, the recording fake provider of bench/_runs_provider.py). Each request's input
holds a marker `BMK<i>X`, so provider and client time stamps (both CLOCK_MONOTONIC) pair up:
  streamed:  added = client receives response i's first response.output_text.delta
                     - provider sends i's first token
  JSON:      added = client's whole request time - the provider's (its first byte in to last byte out)
Targets: streamed added p50 <= 10 ms at 200 concurrent streams; JSON added p50 <= 15 ms at 16 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.runs import PYTHON, ROOT, Config, Stack, pct  # noqa: E402

TARGETS = {"stream_added_p50_ms": 10.0, "json_added_p50_ms": 15.0}


async def _request(port: int, key: str, body: dict[str, Any], conn: Any) -> dict[str, Any]:
    """One POST /v1/responses over an open connection; time stamps of what arrived."""
    reader, writer = conn
    raw = json.dumps(body).encode()
    request = (
        f"POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n"
    ).encode() + raw
    result: dict[str, Any] = {"error": None, "sent": time.monotonic()}
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if status != 200:
        result["error"] = f"HTTP {status}"
    chunked = b"transfer-encoding: chunked" in head.lower()
    if not chunked:
        length = int(
            next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(
                b":"
            )[1]
        )
        data = await reader.readexactly(length)
        result["done"] = time.monotonic()
        if not result["error"] and json.loads(data)["status"] != "completed":
            result["error"] = "not completed"
        return result
    buf = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # the last chunk's trailer
            result["done"] = time.monotonic()
            break
        buf += (await reader.readexactly(size + 2))[:-2]
        if "first_delta" not in result and b"response.output_text.delta" in buf:
            result["first_delta"] = time.monotonic()
    if not result["error"]:
        if body.get("stream"):
            if b"event: response.completed" not in buf or not buf.endswith(b"data: [DONE]\n\n"):
                result["error"] = "no response.completed"
        elif json.loads(buf)["status"] != "completed":
            result["error"] = "not completed"
    return result


async def _streams(spec: dict[str, Any]) -> list[dict[str, Any]]:
    port, key, n = spec["port"], spec["key"], spec["n"]
    conns = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(n)))
    start = time.monotonic() + 0.2
    step = spec["ramp_ms"] / 1000.0 / max(1, n)

    async def one(i: int) -> dict[str, Any]:
        await asyncio.sleep(max(0.0, start + i * step - time.monotonic()))
        body = {"model": "bench-model", "input": f"Please answer. BMK{i}X", "stream": True}
        result = await _request(port, key, body, conns[i])
        result["m"] = str(i)
        conns[i][1].close()
        return result

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def _json(spec: dict[str, Any]) -> list[dict[str, Any]]:
    port, key, clients, each = spec["port"], spec["key"], spec["clients"], spec["requests"]
    base = spec["base"]

    async def client(c: int) -> list[dict[str, Any]]:
        conn = await asyncio.open_connection("127.0.0.1", port)
        out = []
        for r in range(each):
            marker = str(base + c * each + r)
            body = {"model": "bench-model", "input": f"Please answer. BMK{marker}X"}
            result = await _request(port, key, body, conn)
            result["m"] = marker
            out.append(result)
        conn[1].close()
        return out

    batches = await asyncio.gather(*(client(c) for c in range(clients)))
    return [r for batch in batches for r in batch]


def loadgen_main(mode: str, spec_path: str, out_path: str) -> None:
    import uvloop

    spec = json.loads(Path(spec_path).read_text())
    results = uvloop.run(_streams(spec) if mode == "streams" else _json(spec))
    Path(out_path).write_text(json.dumps(results))


def _drive(stack: Stack, mode: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    import subprocess

    path = stack.tmp / f"{mode}-{time.monotonic_ns()}.json"
    out = path.with_suffix(".out.json")
    path.write_text(json.dumps({"port": stack.web_port, "key": stack.key, **spec}))
    subprocess.run(
        [PYTHON, __file__, "loadgen", mode, str(path), str(out)], cwd=ROOT, check=True, timeout=600
    )
    return list(json.loads(out.read_text()))


def _provider_times(stack: Stack) -> dict[str, dict[str, Any]]:
    lines = stack.record.read_text().splitlines()
    return {row["m"]: row for row in map(json.loads, lines)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "loadgen":
        loadgen_main(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres:postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--ramp-ms", type=float, default=4000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=10, help="JSON requests per client")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument("--json-tokens", type=int, default=20, help="tokens of a JSON phase answer")
    args = parser.parse_args()
    args.redis_options = ""
    config = Config(name="responses", web_workers=1, concurrency=200, worker_procs=1)
    tmp = Path(tempfile.mkdtemp(prefix="bench-responses-"))
    stack = Stack(args, config, tmp)
    try:
        stack.start()
        _drive(stack, "json", {"clients": 2, "requests": 3, "base": 900000})  # warm-up
        streamed = _drive(stack, "streams", {"n": args.streams, "ramp_ms": args.ramp_ms})
        provider = _provider_times(stack)
        errors = [r["error"] for r in streamed if r["error"]]
        added = [
            (r["first_delta"] - provider[r["m"]]["first"]) * 1000
            for r in streamed
            if not r["error"] and r["m"] in provider and "first_delta" in r
        ]
        print(f"streamed: {len(streamed)} responses, {len(errors)} errors {errors[:3]}")
        print(
            f"  added first-token latency ms p50 {pct(added, 0.5):.1f} p90 {pct(added, 0.9):.1f} "
            f"p99 {pct(added, 0.99):.1f} max {max(added):.1f}"
        )
        jsoned = _drive(stack, "json", {"clients": args.clients, "requests": args.requests, "base": 100000})
        provider = _provider_times(stack)
        errors = [r["error"] for r in jsoned if r["error"]]
        json_added = [
            ((r["done"] - r["sent"]) - (provider[r["m"]]["last"] - provider[r["m"]]["arrived"])) * 1000
            for r in jsoned
            if not r["error"] and r["m"] in provider
        ]
        print(f"JSON: {len(jsoned)} responses at {args.clients} clients, {len(errors)} errors {errors[:3]}")
        print(
            f"  added over the provider ms p50 {pct(json_added, 0.5):.1f} p90 {pct(json_added, 0.9):.1f} "
            f"p99 {pct(json_added, 0.99):.1f}"
        )
        print(
            f"targets: streamed p50 <= {TARGETS['stream_added_p50_ms']} ms, "
            f"JSON p50 <= {TARGETS['json_added_p50_ms']} ms"
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
