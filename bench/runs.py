"""Runs concurrency benchmark (issue 3): 200 concurrent streamed runs against a fake provider.

    .venv/bin/python bench/runs.py                                   # SQLite; default configurations
    .venv/bin/python bench/runs.py --configs w1c200,w2c200,w2c200x2  # web workers w, worker threads c, x procs
    .venv/bin/python bench/runs.py --db postgres --configs w2c90     # a fresh PostgreSQL database
    .venv/bin/python bench/runs.py --configs w1c200 --profile var/bench-profile   # py-spy, separate pass
    .venv/bin/python bench/runs.py --configs w1c200 --cpu-hog 0.57   # with 57 % of one core taken

Per configuration everything is started afresh, each part as its own process on loopback:
  - a private `redis-server --save ''` on a free port;
  - a fresh SQLite database under a temporary VAR_DIR (or a new PostgreSQL database, dropped after);
  - the fake provider (bench/_runs_provider.py: tests/fakeprovider.py streaming --tokens chunks, one
    every --interval-ms, and recording per request the marker in its prompt and monotonic times);
  - uvicorn with W workers (`console.asgi:application`), as `make run` starts it;
  - K Celery workers (`--pool threads --concurrency C`), as `make run` starts one;
  - the load generator (this file, `loadgen` mode): a raw asyncio HTTP/1.1 client that opens one
    connection per run, sends every POST /v1/threads/{id}/runs {"stream": true} at once (or spread
    over --ramp-ms) and reads the SSE to the end, time-stamping with time.monotonic().

Threads (each with one user message holding a unique marker `BMK<i>X`) and the assistant are created
beforehand through the API, and a few warm-up runs go first. Time stamps from the client and the
provider are all CLOCK_MONOTONIC, so the bench subtracts them directly:
  (a) added latency   = client receives run i's first thread.message.delta - provider sends i's first token
  (b) dispatch        = provider receives i's request - client sends i's POST
  lag at last token   = client receives i's last delta - provider sends i's last chunk
The worker's RSS (VmRSS summed over its process tree) is sampled every 50 ms; CPU seconds per
component come from /proc/<pid>/stat over the load phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
PYSPY = str(ROOT / ".venv" / "bin" / "py-spy")
CLK_TCK = os.sysconf("SC_CLK_TCK")

TARGETS = {"added_p50_ms": 10.0, "added_p99_ms": 50.0, "dispatch_p50_ms": 50.0, "worker_rss_mb": 1024.0}


# ----------------------------------------------------------------------------------- load generator


async def _one_run(
    port: int, key: str, thread_id: str, assistant_id: str, start_at: float, timeout: float, conn: Any
) -> dict[str, Any]:
    """One streamed run over its own (already open) connection; returns its time stamps."""
    result: dict[str, Any] = {"thread": thread_id, "error": None, "deltas": 0, "tokens": 0, "events": 0}
    reader, writer = conn
    body = json.dumps({"assistant_id": assistant_id, "stream": True}).encode()
    request = (
        f"POST /v1/threads/{thread_id}/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    delay = start_at - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    try:
        async with asyncio.timeout(timeout):
            result["sent"] = time.monotonic()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            result["headers"] = time.monotonic()
            status = int(head.split(b" ", 2)[1])
            result["status"] = status
            chunked = b"transfer-encoding: chunked" in head.lower()
            if status != 200:
                result["error"] = f"HTTP {status}: {head[:200]!r}"
                return result
            buf = b""
            finished = False
            while not finished:
                if chunked:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    if size == 0:
                        break
                    data = (await reader.readexactly(size + 2))[:-2]
                else:
                    data = await reader.read(65536)
                    if not data:
                        break
                now = time.monotonic()
                buf += data
                while b"\n\n" in buf:
                    frame, buf = buf.split(b"\n\n", 1)
                    if frame.startswith(b":"):
                        continue
                    event = frame[7 : frame.index(b"\n")] if frame.startswith(b"event: ") else b""
                    result["events"] += 1
                    if event == b"thread.message.delta":
                        if not result["deltas"]:
                            result["first_delta"] = now
                        result["deltas"] += 1
                        # The provider's tokens are " tok<i>"; deltas may carry several (coalescing).
                        result["tokens"] += frame.count(b" tok")
                        result["last_delta"] = now
                    elif event in (
                        b"thread.run.created",
                        b"thread.run.in_progress",
                        b"thread.run.step.created",
                    ):
                        result.setdefault(event.decode(), now)
                    elif event.startswith(b"thread.run.") and event[11:] in (
                        b"completed",
                        b"failed",
                        b"cancelled",
                        b"expired",
                        b"incomplete",
                    ):
                        result["final_status"] = event[11:].decode()
                    elif event == b"error":
                        result["error"] = "error event: " + frame[:300].decode(errors="replace")
                    elif event == b"done":
                        result["done"] = now
                        finished = True
        if result.get("final_status") != "completed" and not result["error"]:
            result["error"] = f"run ended {result.get('final_status')!r} (done={'done' in result})"
    except TimeoutError:
        result["error"] = f"timeout after {timeout} s"
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        writer.close()
    return result


async def _loadgen(spec: dict[str, Any]) -> list[dict[str, Any]]:
    port, key, assistant = spec["port"], spec["key"], spec["assistant"]
    threads = spec["threads"]
    conns = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in threads))
    start = time.monotonic() + 0.2
    step = spec["ramp_ms"] / 1000.0 / max(1, len(threads))
    tasks = [
        _one_run(port, key, tid, assistant, start + i * step, spec["timeout"], conn)
        for i, (tid, conn) in enumerate(zip(threads, conns, strict=True))
    ]
    return list(await asyncio.gather(*tasks))


def loadgen_main(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    results = asyncio.run(_loadgen(spec))
    Path(out_path).write_text(json.dumps(results))


def hog_main(duty: float) -> None:
    """Keeps one core busy for `duty` of every 10 ms, as a slower or shared host would."""
    while True:
        started = time.perf_counter()
        while time.perf_counter() - started < 0.01 * duty:
            pass
        time.sleep(0.01 * (1 - duty))


# ----------------------------------------------------------------------------------- orchestration


@dataclass
class Config:
    name: str
    web_workers: int
    concurrency: int
    worker_procs: int = 1


@dataclass
class Result:
    config: str
    db: str
    runs: int
    errors: int
    wall_s: float
    added_p50_ms: float
    added_p99_ms: float
    added_max_ms: float
    dispatch_p50_ms: float
    dispatch_p99_ms: float
    last_lag_p50_ms: float
    last_lag_p99_ms: float
    ttfb_p50_ms: float
    worker_rss_peak_mb: float
    web_rss_peak_mb: float
    peak_streams: int = 0  # most provider streams open at one instant: the runs truly in flight
    load_before: float = 0.0  # 1-minute load average when the load phase began: other work on the host
    cpu_s: dict[str, float] = field(default_factory=dict)
    redis_calls: dict[str, int] = field(default_factory=dict)  # Redis commands run during the load phase
    # where the time goes (p50, ms): POST -> response headers -> thread.run.in_progress seen -> provider request;
    # provider first token -> thread.run.step.created seen (worker: read, parse, 2 inserts) -> first delta seen
    stages_p50_ms: dict[str, float] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)


def parse_config(text: str) -> Config:
    found = re.fullmatch(r"w(\d+)c(\d+)(?:x(\d+))?", text)
    if not found:
        raise SystemExit(f"bad config {text!r}: use w<web workers>c<worker threads>[x<worker processes>]")
    return Config(text, int(found.group(1)), int(found.group(2)), int(found.group(3) or 1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def redis_calls(port: int) -> dict[str, int]:
    """Calls per Redis command so far (INFO commandstats)."""
    import redis

    stats = redis.Redis(port=port).info("commandstats")
    return {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}


def tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def rss_kb(pid: int) -> int:
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_s(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        except OSError:
            pass
    return total


class Sampler(threading.Thread):
    def __init__(self, pids: dict[str, list[int]]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak: dict[str, int] = {name: 0 for name in pids}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for name, pids in self.pids.items():
                self.peak[name] = max(self.peak[name], sum(rss_kb(p) for p in pids))
            self.stop.wait(0.05)


class Stack:
    """Starts the product's parts as subprocesses and stops them all."""

    def __init__(self, args: argparse.Namespace, config: Config, tmp: Path) -> None:
        self.args, self.config, self.tmp = args, config, tmp
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.pg_name: str | None = None
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "VAR_DIR": str(tmp / "var"),
            "LOG_LEVEL": "WARNING",
            "LLM_API_KEY": "sk-bench",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("LLM_PROVIDERS", None)

    def spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            cmd, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append((name, proc))
        return proc

    def start(self) -> None:
        args, config = self.args, self.config
        redis_port, self.provider_port, self.web_port = free_port(), free_port(), free_port()
        self.spawn(
            "redis",
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
        )
        self.env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        self.redis_port = redis_port
        if args.redis_options:
            self.env["BENCH_BROKER_URL"] = self.env["REDIS_URL"]
            self.env["REDIS_URL"] += "?" + args.redis_options
            self.env["DJANGO_SETTINGS_MODULE"] = "bench.settings_runs"
        if args.db == "postgres":
            import psycopg

            self.pg_name = f"bench_runs_{os.getpid()}_{config.name}"
            with psycopg.connect(args.pg_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.pg_name}"')
            self.env["DATABASE_URL"] = args.pg_admin_url.rsplit("/", 1)[0] + "/" + self.pg_name
        else:
            self.env["DATABASE_URL"] = ""
        self.env["LLM_BASE_URL"] = f"http://127.0.0.1:{self.provider_port}/v1"
        subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], env=self.env, cwd=ROOT, check=True)
        made = subprocess.run(
            [PYTHON, "manage.py", "create_api_key", "--project", "bench"],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        self.key = made.stdout.strip().splitlines()[-1]
        self.record = self.tmp / "provider.jsonl"
        self.provider = self.spawn(
            "provider",
            [
                PYTHON,
                "bench/_runs_provider.py",
                "--port",
                str(self.provider_port),
                "--tokens",
                str(args.tokens),
                "--interval-ms",
                str(args.interval_ms),
                "--record",
                str(self.record),
            ],
        )
        self.web = self.spawn(
            "web",
            [
                PYTHON,
                "-m",
                "uvicorn",
                "console.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.web_port),
                "--workers",
                str(config.web_workers),
                "--no-access-log",
                "--log-level",
                "warning",
                "--timeout-graceful-shutdown",
                "5",
            ],
        )
        self.workers = [
            self.spawn(
                f"worker{i}",
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "console",
                    "worker",
                    "--pool",
                    "threads",
                    "--concurrency",
                    str(config.concurrency),
                    "--loglevel",
                    "WARNING",
                    "-n",
                    f"bench{i}@%h",
                ],
            )
            for i in range(config.worker_procs)
        ]
        self.wait_http()

    def wait_http(self) -> None:
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited early; see {self.tmp / (name + '.log')}")
            try:
                if (
                    httpx.get(
                        f"http://127.0.0.1:{self.web_port}/v1/assistants", headers=self.auth(), timeout=2
                    ).status_code
                    == 200
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("web server did not answer")

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.pg_name:
            import psycopg

            with psycopg.connect(self.args.pg_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


def make_threads(stack: Stack, assistant: str, markers: list[str]) -> list[str]:
    import httpx

    with httpx.Client(
        base_url=f"http://127.0.0.1:{stack.web_port}/v1", headers=stack.auth(), timeout=30
    ) as client:
        ids = []
        for marker in markers:
            response = client.post(
                "/threads", json={"messages": [{"role": "user", "content": f"Please answer. BMK{marker}X"}]}
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
        return ids


def drive(
    stack: Stack, assistant: str, threads: list[str], ramp_ms: float, timeout: float
) -> tuple[list[dict[str, Any]], float]:
    spec = stack.tmp / f"spec-{len(threads)}-{time.monotonic_ns()}.json"
    out = spec.with_suffix(".out.json")
    spec.write_text(
        json.dumps(
            {
                "port": stack.web_port,
                "key": stack.key,
                "assistant": assistant,
                "threads": threads,
                "ramp_ms": ramp_ms,
                "timeout": timeout,
            }
        )
    )
    started = time.monotonic()
    subprocess.run(
        [PYTHON, __file__, "loadgen", str(spec), str(out)], cwd=ROOT, check=True, timeout=timeout + 60
    )
    return json.loads(out.read_text()), time.monotonic() - started


def profile(stack: Stack, out_dir: Path, seconds: float) -> list[subprocess.Popen[bytes]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    spies = []
    targets = {"worker": stack.workers[0].pid}
    web_children = [p for p in tree(stack.web.pid) if p != stack.web.pid]
    targets["web"] = web_children[0] if web_children else stack.web.pid
    for name, pid in targets.items():
        spies.append(
            subprocess.Popen(
                [
                    PYSPY,
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    "250",
                    "--duration",
                    str(int(seconds)),
                    "--nonblocking",
                    "--format",
                    "raw",
                    *(["--idle"] if stack.args.profile_idle else []),
                    *(["--gil"] if stack.args.profile_gil else []),
                    "--output",
                    str(out_dir / f"{stack.config.name}-{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return spies


def bench(args: argparse.Namespace, config: Config) -> Result:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-runs-{config.name}-"))
    stack = Stack(args, config, tmp)
    try:
        stack.start()
        import httpx

        made = httpx.post(
            f"http://127.0.0.1:{stack.web_port}/v1/assistants",
            headers=stack.auth(),
            json={"model": "fake-model", "instructions": "You are a benchmark."},
            timeout=30,
        )
        made.raise_for_status()
        assistant = made.json()["id"]
        warm = make_threads(stack, assistant, [f"9{i:05d}" for i in range(args.warmup)])
        measured = make_threads(stack, assistant, [str(i) for i in range(args.runs)])
        warm_results, _ = drive(stack, assistant, warm, 0, args.timeout)
        warm_errors = [r["error"] for r in warm_results if r["error"]]
        if warm_errors:
            print(f"  warm-up errors: {warm_errors[:3]}", flush=True)
        time.sleep(1.0)
        parts = {
            "worker": [w.pid for w in stack.workers],
            "web": [stack.web.pid],
            "provider": [stack.provider.pid],
            "redis": [stack.procs[0][1].pid],
        }
        cpu_before = {name: sum(cpu_s(p) for p in pids) for name, pids in parts.items()}
        calls_before = redis_calls(stack.redis_port)
        load_before = float(Path("/proc/loadavg").read_text().split()[0])
        sampler = Sampler({"worker": parts["worker"], "web": parts["web"]})
        sampler.start()
        spies = profile(stack, Path(args.profile), args.profile_seconds) if args.profile else []
        hog = subprocess.Popen([PYTHON, __file__, "hog", str(args.cpu_hog)]) if args.cpu_hog else None
        try:
            results, wall = drive(stack, assistant, measured, args.ramp_ms, args.timeout)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
        sampler.stop.set()
        sampler.join()
        cpu = {name: round(sum(cpu_s(p) for p in pids) - cpu_before[name], 2) for name, pids in parts.items()}
        calls_after = redis_calls(stack.redis_port)
        calls = {
            name: count - calls_before.get(name, 0)
            for name, count in sorted(calls_after.items(), key=lambda item: -item[1])
            if count > calls_before.get(name, 0) and name != "info"
        }
        for spy in spies:
            try:
                spy.wait(timeout=args.profile_seconds + 30)
            except subprocess.TimeoutExpired:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=10)
        provider = {}
        for line in stack.record.read_text().splitlines():
            entry = json.loads(line)
            provider[entry["m"]] = entry
        added, dispatch, lag, ttfb, errors = [], [], [], [], []
        stages: dict[str, list[float]] = {
            "post>headers": [],
            "headers>in_progress": [],
            "in_progress>provider": [],
            "token>step_created": [],
            "step_created>delta": [],
        }
        for i, r in enumerate(results):
            p = provider.get(str(i))
            if not r["error"] and r["tokens"] != args.tokens:
                r["error"] = f"{r['tokens']} tokens in {r['deltas']} deltas, expected {args.tokens}"
            if not r["error"] and p is None:
                r["error"] = "provider saw no request"
            if r["error"]:
                errors.append(r["error"])
                continue
            added.append((r["first_delta"] - p["first"]) * 1000)
            dispatch.append((p["arrived"] - r["sent"]) * 1000)
            lag.append((r["last_delta"] - p["last"]) * 1000)
            ttfb.append((r["headers"] - r["sent"]) * 1000)
            stages["post>headers"].append((r["headers"] - r["sent"]) * 1000)
            stages["headers>in_progress"].append((r["thread.run.in_progress"] - r["headers"]) * 1000)
            stages["in_progress>provider"].append((p["arrived"] - r["thread.run.in_progress"]) * 1000)
            stages["token>step_created"].append((r["thread.run.step.created"] - p["first"]) * 1000)
            stages["step_created>delta"].append((r["first_delta"] - r["thread.run.step.created"]) * 1000)
        sends = [r["sent"] for r in results if "sent" in r]
        peak = peak_overlap([(p["arrived"], p["last"]) for p in provider.values() if "last" in p])
        ends = [r.get("done", 0) for r in results]
        raw = tmp / "results.json"
        raw.write_text(json.dumps({"client": results, "provider": provider}))
        return Result(
            config=config.name,
            db=args.db,
            runs=len(results),
            errors=len(errors),
            wall_s=round(max(ends) - min(sends), 2) if sends and ends else wall,
            added_p50_ms=round(pct(added, 0.5), 1),
            added_p99_ms=round(pct(added, 0.99), 1),
            added_max_ms=round(max(added, default=float("nan")), 1),
            dispatch_p50_ms=round(pct(dispatch, 0.5), 1),
            dispatch_p99_ms=round(pct(dispatch, 0.99), 1),
            last_lag_p50_ms=round(pct(lag, 0.5), 1),
            last_lag_p99_ms=round(pct(lag, 0.99), 1),
            ttfb_p50_ms=round(pct(ttfb, 0.5), 1),
            peak_streams=peak,
            stages_p50_ms={name: round(pct(values, 0.5), 1) for name, values in stages.items()},
            worker_rss_peak_mb=round(sampler.peak["worker"] / 1024, 1),
            web_rss_peak_mb=round(sampler.peak["web"] / 1024, 1),
            load_before=load_before,
            cpu_s=cpu,
            redis_calls=dict(list(calls.items())[:8]),
            error_samples=sorted(set(errors))[:5],
        )
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"  kept {tmp}", flush=True)


def peak_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = open_now = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak


def verdict(r: Result) -> str:
    misses = []
    if r.errors:
        misses.append(f"{r.errors} errors")
    for name, bound in (
        ("added_p50_ms", TARGETS["added_p50_ms"]),
        ("added_p99_ms", TARGETS["added_p99_ms"]),
        ("dispatch_p50_ms", TARGETS["dispatch_p50_ms"]),
    ):
        value = getattr(r, name)
        if not value <= bound:
            misses.append(f"{name} {value:g} > {bound:g} (x{value / bound:.1f})")
    if not r.worker_rss_peak_mb < TARGETS["worker_rss_mb"]:
        misses.append(f"worker RSS {r.worker_rss_peak_mb:g} MB")
    return "all targets met" if not misses else "; ".join(misses)


def table(results: list[Result]) -> str:
    head = (
        "| config | db | runs | errors | wall s | added p50 ms | added p99 ms | added max ms | dispatch p50 ms "
        "| dispatch p99 ms | last-token lag p50/p99 ms | worker RSS peak MB | web RSS MB | CPU s (worker/web/provider/redis) "
        "| peak streams | load avg |"
    )
    rows = [head, "|" + "---|" * 16]
    for r in results:
        c = r.cpu_s
        rows.append(
            f"| {r.config} | {r.db} | {r.runs} | {r.errors} | {r.wall_s} | {r.added_p50_ms} | {r.added_p99_ms} | {r.added_max_ms} "
            f"| {r.dispatch_p50_ms} | {r.dispatch_p99_ms} | {r.last_lag_p50_ms} / {r.last_lag_p99_ms} | {r.worker_rss_peak_mb} "
            f"| {r.web_rss_peak_mb} | {c.get('worker')}/{c.get('web')}/{c.get('provider')}/{c.get('redis')} | {r.peak_streams} | {r.load_before} |"
        )
    return "\n".join(rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "loadgen":
        loadgen_main(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "hog":
        hog_main(float(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description="Runs concurrency benchmark (issue 3).")
    parser.add_argument(
        "--configs", default="w1c200,w2c200", help="comma-separated w<web>c<threads>[x<procs>]"
    )
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument(
        "--ramp-ms", type=float, default=0.0, help="spread the POSTs over this long (0: all at once)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="per-run bound, seconds")
    parser.add_argument(
        "--redis-options",
        default="",
        help="query string appended to REDIS_URL, e.g. socket_timeout=30&max_connections=2000 "
        "(redis-py lets these override the product's own client options)",
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--cpu-hog",
        type=float,
        default=0.0,
        help="during the load phase, a busy loop holds one core for this share of the time (0-1): "
        "a slower or shared host",
    )
    parser.add_argument(
        "--profile", help="directory for py-spy raw profiles of worker and web (perturbs timings)"
    )
    parser.add_argument(
        "--profile-idle", action="store_true", help="py-spy --idle: wall-clock, not CPU, samples"
    )
    parser.add_argument(
        "--profile-gil", action="store_true", help="py-spy --gil: only samples that hold the GIL (Python CPU)"
    )
    parser.add_argument("--profile-seconds", type=float, default=10.0)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (logs, raw results)"
    )
    parser.add_argument("--json", help="write the results as JSON here too")
    args = parser.parse_args()
    results = []
    for _ in range(args.repeat):
        for text in args.configs.split(","):
            config = parse_config(text.strip())
            print(
                f"== {config.name} ({args.db}, {args.runs} runs, ramp {args.ramp_ms:g} ms, "
                f"redis options {args.redis_options or '-'})",
                flush=True,
            )
            result = bench(args, config)
            print(f"  {asdict(result)}", flush=True)
            print(f"  -> {verdict(result)}", flush=True)
            results.append(result)
    print()
    print(table(results))
    print()
    for r in results:
        print(f"- {r.config} ({r.db}): {verdict(r)}")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
