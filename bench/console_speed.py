"""Console speed (issue 5): the thread inspector's first screen, and playground token latency.

    .venv/bin/python bench/console_speed.py                        # both parts, SQLite, defaults below
    .venv/bin/python bench/console_speed.py --iterations 300 --runs 8

Everything runs as `make run` runs it, each part its own process on loopback:
  - a private `redis-server --save ''`;
  - a fresh SQLite database under a temporary VAR_DIR (migrated, then seeded through the ORM by this
    process: one thread of --messages messages and --runs runs, each run with two steps, a tenth of the
    assistant messages citing one of three files);
  - the fake provider (tests/fakeprovider.py, --tokens chunks one every --interval-ms), wrapped here to
    record time.monotonic() as each chunk is handed to its socket (`provider` mode of this file);
  - `uvicorn console.asgi:application` (one process: console and /v1; CONSOLE_SELF_URL points the
    console at that same server's /v1, as by default);
  - one Celery worker, `--pool threads`, as `make run` starts it.

(a) Inspector: a superuser logs in through the login form, then GETs the thread page
    (/p/<project>/threads/<thread>: thread, first page of messages, cited file names) --iterations
    times, one at a time, after 10 warm-ups; the time is the whole HTTP exchange on loopback, so it
    is the server's time plus well under a millisecond of client. The runs timeline, which the page
    loads in a second request (/threads/<thread>/runs), is timed the same way.
(b) Token latency: the same user sends a message in the playground (POST /playground/send, as the
    browser's htmx does), then reads the playground's SSE proxy (/threads/<t>/runs/<r>/stream) as
    the browser's EventSource would. Each `thread.message.delta` names its tokens (" tok17"); a token's
    latency is the client's monotonic receive time minus the provider's monotonic send time of
    that chunk (CLOCK_MONOTONIC is system-wide, so the processes' clocks compare). Tokens the provider
    sent before the stream's response headers arrived are left out (they are replayed, not relayed).

Targets (issue 5): inspector first screen <= 300 ms (judged on p95 here); token latency p50 <= 20 ms.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's directory comes first on sys.path, and its name would hide the
# `console` package: put the project root first.
sys.path.insert(0, str(ROOT))
PYTHON = str(ROOT / ".venv" / "bin" / "python")
TARGETS = {"inspector_p95_ms": 300.0, "token_p50_ms": 20.0}
PASSWORD = "bench-console-password"
TOKEN = re.compile(r" tok(\d+)")


# ----------------------------------------------------------------------------------------- provider


def provider_main(argv: list[str]) -> None:
    """The fake provider, recording per request the marker in its prompt and each chunk's send time."""
    from tests.fakeprovider import FakeProvider, Text

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--interval-ms", type=float, required=True)
    parser.add_argument("--record", required=True)
    args = parser.parse_args(argv)
    out = open(args.record, "a")  # noqa: SIM115
    marker = re.compile(rb"BMK(\d+)X")

    class Recording(FakeProvider):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return await super().__call__(scope, receive, send)
            raw = bytearray()
            times: list[float] = []

            async def rec_receive() -> Any:
                message = await receive()
                raw.extend(message.get("body", b""))
                return message

            async def rec_send(message: Any) -> None:
                if message["type"] == "http.response.body" and message.get("body"):
                    times.append(time.monotonic())
                await send(message)

            try:
                await super().__call__(scope, rec_receive, rec_send)
            finally:
                found = marker.search(raw)
                if found and times:
                    out.write(json.dumps({"m": found.group(1).decode(), "times": times}) + "\n")
                    out.flush()

    chunks = [f" tok{i}" for i in range(args.tokens)]
    reply = Text("".join(chunks), chunks=chunks, delay=args.interval_ms / 1000.0)
    provider = Recording(host="127.0.0.1", port=args.port, default=reply, record=False, start=False)
    provider.serve_forever()


# ------------------------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Stack:
    def __init__(self, tmp: Path, args: argparse.Namespace) -> None:
        self.tmp, self.args = tmp, args
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.redis_port, self.provider_port, self.web_port = free_port(), free_port(), free_port()
        self.record = tmp / "provider.jsonl"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "VAR_DIR": str(tmp / "var"),
            "DATABASE_URL": "",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "LLM_BASE_URL": f"http://127.0.0.1:{self.provider_port}/v1",
            "LLM_API_KEY": "sk-bench",
            "CONSOLE_SELF_URL": f"http://127.0.0.1:{self.web_port}/v1",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("LLM_PROVIDERS", None)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            cmd, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append((name, proc))

    def start_services(self) -> None:
        self.spawn(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.redis_port),
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
        subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], env=self.env, cwd=ROOT, check=True)

    def start_servers(self) -> None:
        a = self.args
        self.spawn(
            "provider",
            [
                PYTHON,
                __file__,
                "provider",
                "--port",
                str(self.provider_port),
                "--tokens",
                str(a.tokens),
                "--interval-ms",
                str(a.interval_ms),
                "--record",
                str(self.record),
            ],
        )
        self.spawn(
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
                "--no-access-log",
                "--log-level",
                "warning",
                "--timeout-graceful-shutdown",
                "3",
            ],
        )
        self.spawn(
            "worker",
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
                "16",
                "--loglevel",
                "WARNING",
                "-n",
                "benchconsole@%h",
            ],
        )
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited early; see {self.tmp / (name + '.log')}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("web server did not answer")

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


# ------------------------------------------------------------------------------------------ seeding


def seed(env: dict[str, str], messages: int, runs: int) -> dict[str, Any]:
    """One project, a superuser, an API key, three files and one long thread, written through the ORM."""
    os.environ.update(
        {
            k: v
            for k, v in env.items()
            if k in ("DJANGO_SETTINGS_MODULE", "VAR_DIR", "DATABASE_URL", "REDIS_URL")
        }
    )
    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from console.assistants.models import Assistant
    from console.core.ids import new_id
    from console.files.models import File
    from console.projects.services import create_api_key, get_or_create_project
    from console.runs.models import Run, RunStep
    from console.threads.models import Message, Thread

    project = get_or_create_project("bench-console")
    _, key = create_api_key(project, name="bench")
    get_user_model().objects.create_superuser("bench", "bench@example.com", PASSWORD)
    assistant = Assistant.objects.create(project=project, model="fake-model", name="Bench")
    files = [
        File.objects.create(
            id=new_id("file-"),
            project=project,
            filename=f"manual-{n}.pdf",
            purpose="assistants",
            bytes=1000,
            storage_name=f"files/{project.pk}/none-{n}",
        )
        for n in range(3)
    ]
    start = timezone.now() - timedelta(days=1)
    thread = Thread.objects.create(project=project, created_at=start, metadata={"source": "bench"})
    body = (
        "Here is **what the manual says** about the topic you asked for:\n\n"
        "- first, check the *settings* page;\n- then restart the service;\n- finally, `run diagnostics`.\n\n"
        "If that does not help, contact support with the error code."
    )
    run_rows, step_rows, message_rows = [], [], []
    per_run = max(1, messages // max(1, runs))
    for r in range(runs):
        run_rows.append(
            Run(
                id=new_id("run_"),
                project=project,
                thread=thread,
                assistant_id=assistant.id,
                status="completed" if r % 10 else "failed",
                model="fake-model",
                created_at=start + timedelta(seconds=r * 60),
                started_at=start + timedelta(seconds=r * 60 + 1),
                completed_at=start + timedelta(seconds=r * 60 + 5),
                last_error=None if r % 10 else {"code": "server_error", "message": "provider timed out"},
                usage={"prompt_tokens": 900 + r, "completion_tokens": 120, "total_tokens": 1020 + r},
            )
        )
    for i in range(messages):
        run = run_rows[min(len(run_rows) - 1, i // per_run)] if run_rows else None
        role = "user" if i % 2 == 0 else "assistant"
        annotations = []
        if role == "assistant" and i % 10 == 1:
            annotations = [
                {
                    "type": "file_citation",
                    "text": "【4:0†source】",
                    "start_index": 0,
                    "end_index": 10,
                    "file_citation": {"file_id": files[i % 3].id, "quote": "restart the service"},
                }
            ]
        message_rows.append(
            Message(
                id=new_id("msg_"),
                thread=thread,
                role=role,
                created_at=start + timedelta(seconds=i * 6),
                content=[
                    {
                        "type": "text",
                        "text": {
                            "value": f"Message {i}. " + body + (" 【4:0†source】" if annotations else ""),
                            "annotations": annotations,
                        },
                    }
                ],
                assistant_id=assistant.id if role == "assistant" else None,
                run_id=run.id if run and role == "assistant" else None,
            )
        )
    Run.objects.bulk_create(run_rows, batch_size=500)
    Message.objects.bulk_create(message_rows, batch_size=500)
    for run in run_rows:
        step_rows.append(
            RunStep(
                id=new_id("step_"),
                run=run,
                thread_id=thread.id,
                assistant_id=assistant.id,
                type="tool_calls",
                status="completed",
                created_at=run.created_at,
                step_details={
                    "type": "tool_calls",
                    "tool_calls": [
                        {
                            "id": new_id("call_"),
                            "type": "function",
                            "function": {
                                "name": "lookup",
                                "arguments": '{"q": "manual"}',
                                "output": "page 12",
                            },
                        }
                    ],
                },
            )
        )
        step_rows.append(
            RunStep(
                id=new_id("step_"),
                run=run,
                thread_id=thread.id,
                assistant_id=assistant.id,
                type="message_creation",
                status="completed",
                created_at=run.created_at,
                step_details={"type": "message_creation", "message_creation": {"message_id": "msg_x"}},
            )
        )
    RunStep.objects.bulk_create(step_rows, batch_size=500)
    return {"project": project.pk, "key": key, "thread": thread.id, "assistant": assistant.id}


# ------------------------------------------------------------------------------------- measurements


def login(base: str) -> Any:
    import httpx

    client = httpx.Client(base_url=base, timeout=60)
    client.get("/login")
    token = client.cookies["csrftoken"]
    r = client.post(
        "/login",
        data={"username": "bench", "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login"},
    )
    assert r.status_code in (200, 302) and "sessionid" in client.cookies, r.text[:300]
    return client


def time_get(client: Any, url: str, iterations: int, headers: dict[str, str] | None = None) -> list[float]:
    for _ in range(10):
        assert client.get(url, headers=headers).status_code == 200
    out = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.status_code
    return out


def inspector(stack: Stack, seeded: dict[str, Any], iterations: int) -> dict[str, Any]:
    client = login(stack.base)
    page = f"/p/{seeded['project']}/threads/{seeded['thread']}"
    first = client.get(page).text
    assert "Load more messages" in first and "manual-" in first, "the first screen is not what it should be"
    screen = time_get(client, page, iterations)
    runs = time_get(client, page + "/runs", iterations, headers={"HX-Request": "true"})
    more = client.get(
        page, params={"after": re.findall(r'id="(msg_[^"]+)"', first)[-1]}, headers={"HX-Request": "true"}
    )
    assert more.status_code == 200
    return {
        "first_screen_ms": {"p50": pct(screen, 50), "p95": pct(screen, 95), "max": max(screen)},
        "runs_timeline_ms": {"p50": pct(runs, 50), "p95": pct(runs, 95), "max": max(runs)},
        "first_screen_bytes": len(first.encode()),
        "iterations": iterations,
    }


def token_latency(stack: Stack, seeded: dict[str, Any], runs: int, tokens: int) -> dict[str, Any]:
    client = login(stack.base)
    csrf = {"X-CSRFToken": client.cookies["csrftoken"], "HX-Request": "true", "Referer": stack.base}
    samples: list[float] = []
    skipped = 0
    received_runs = 0
    for n in range(runs + 1):  # the first run warms up the worker, the provider connection and the stream
        marker = f"BMK{n}X"
        r = client.post(
            f"/p/{seeded['project']}/playground/send",
            headers=csrf,
            data={"assistant_id": seeded["assistant"], "content": f"Tell me everything. {marker}"},
        )
        assert r.status_code == 200, r.text[:300]
        stream_url = re.search(r'data-stream-url="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
        received: dict[int, float] = {}
        with client.stream(
            "GET", stream_url, headers={"Accept": "text/event-stream"}, timeout=120
        ) as response:
            assert response.status_code == 200
            opened = time.monotonic()
            event = ""
            for line in response.iter_lines():
                now = time.monotonic()
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "thread.message.delta":
                    for found in TOKEN.finditer(line):
                        received.setdefault(int(found.group(1)), now)
                elif line.startswith("data: ") and event in (
                    "thread.run.completed",
                    "thread.run.failed",
                    "done",
                ):
                    break
        sent = _provider_times(stack.record, str(n), tokens)
        if n == 0:
            continue
        received_runs += 1
        for index, at in received.items():
            if index < len(sent):
                if sent[index] < opened:
                    skipped += 1
                    continue
                samples.append((at - sent[index]) * 1000)
    return {
        "p50_ms": pct(samples, 50),
        "p95_ms": pct(samples, 95),
        "p99_ms": pct(samples, 99),
        "max_ms": max(samples),
        "tokens_measured": len(samples),
        "tokens_skipped_before_connect": skipped,
        "runs": received_runs,
    }


def _provider_times(record: Path, marker: str, tokens: int) -> list[float]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if record.exists():
            for line in record.read_text().splitlines():
                row = json.loads(line)
                if row["m"] == marker:
                    return list(row["times"][:tokens])
        time.sleep(0.05)
    raise RuntimeError(f"the provider recorded no request for marker {marker}")


# ------------------------------------------------------------------------------------------------ main


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "provider":
        provider_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=200, help="runs in the seeded thread")
    parser.add_argument("--iterations", type=int, default=200, help="timed GETs of each inspector URL")
    parser.add_argument(
        "--stream-runs", type=int, default=5, help="playground runs streamed (plus one warm-up)"
    )
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument("--out", help="write the results as JSON here too")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    stack = Stack(tmp, args)
    try:
        stack.start_services()
        seeded = seed(stack.env, args.messages, args.runs)
        stack.start_servers()
        results = {
            "config": {
                "messages": args.messages,
                "runs": args.runs,
                "tokens": args.tokens,
                "interval_ms": args.interval_ms,
                "db": "sqlite",
                "cpus": os.cpu_count(),
            },
            "inspector": inspector(stack, seeded, args.iterations),
            "tokens": token_latency(stack, seeded, args.stream_runs, args.tokens),
        }
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    ins, tok = results["inspector"], results["tokens"]
    results["verdict"] = {
        "inspector_first_screen_p95_ms<=300": ins["first_screen_ms"]["p95"] <= TARGETS["inspector_p95_ms"],
        "token_latency_p50_ms<=20": tok["p50_ms"] <= TARGETS["token_p50_ms"],
    }
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    if args.keep:
        print(f"logs in {tmp}", file=sys.stderr)


if __name__ == "__main__":
    main()
