"""Thread list speed (issue 17): the console's first screen of 50 threads in a project of 10,000.

    .venv/bin/python bench/thread_list.py                     # SQLite, 10,000 threads, 200 timed GETs each
    .venv/bin/python bench/thread_list.py --threads 10000 --iterations 200 --out /tmp/threads.json
    DATABASE_URL=postgres://… .venv/bin/python bench/thread_list.py   # an empty PostgreSQL database instead

Runs as `make run` runs it, on loopback: a private `redis-server --save ''`, a fresh database under a
temporary VAR_DIR (migrated, then seeded through the ORM by this process), and one
`uvicorn console.asgi:application` serving both the console and /v1 (CONSOLE_SELF_URL points the
console at that same server). Seed: --threads threads, each with 1–9 messages (user first, then
alternating; about 5 on average) and a run per assistant reply, every 7th thread's last run failed,
spread over 90 days.

Timed, one request at a time after 10 warm-ups, as whole HTTP exchanges on loopback (server time
plus well under a millisecond of client):
  - console: GET /p/<project>/threads, the first screen (50 rows by last activity, each with first
    user message, last activity, message count, assistants, last run status and metadata; it calls
    GET /v1/threads?order_by=last_activity&include[]=summary&limit=50 and GET /v1/assistants);
  - api: that GET /v1/threads call alone;
  - search: the console's first screen for a word found in about one thread in 20, with snippets.

Target (issue 17): the console's first screen <= 100 ms of server time (judged on p95 here).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
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
sys.path.insert(0, str(ROOT))
PYTHON = str(ROOT / ".venv" / "bin" / "python")
TARGET_P95_MS = 100.0
PASSWORD = "bench-thread-list-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(pct(values, 50), 1),
        "p95": round(pct(values, 95), 1),
        "p99": round(pct(values, 99), 1),
        "max": round(max(values), 1),
    }


def seed(env: dict[str, str], count: int) -> dict[str, Any]:
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
    from console.projects.services import create_api_key, get_or_create_project
    from console.runs.models import Run
    from console.threads.models import Message, Thread

    rng = random.Random(17)
    project = get_or_create_project("bench-thread-list")
    _, key = create_api_key(project, name="bench")
    get_user_model().objects.create_superuser("bench", "bench@example.com", PASSWORD)
    assistants = [
        Assistant.objects.create(project=project, model="fake-model", name=f"Helper {n}") for n in range(4)
    ]
    start = timezone.now() - timedelta(days=90)
    words = "order invoice parcel refund password account billing delivery login upgrade".split()
    threads, messages, runs = [], [], []
    for t in range(count):
        created = start + timedelta(seconds=rng.uniform(0, 89 * 86400))
        thread = Thread(
            id=new_id("thread_"),
            project=project,
            created_at=created,
            metadata={"customer": f"c{t % 300}", "channel": rng.choice(["web", "mail"])},
        )
        threads.append(thread)
        assistant = assistants[t % len(assistants)].id
        n = rng.randint(1, 9)
        for i in range(n):
            at = created + timedelta(seconds=i * rng.uniform(10, 600))
            role = "user" if i % 2 == 0 else "assistant"
            topic = "refund" if t % 20 == 0 else rng.choice(words[:3] + words[4:])
            text = (
                f"Question {i} about my {topic}: it has not arrived and I would like to know what happens next."
                if role == "user"
                else f"Thanks for asking about the {topic}. Here is what I found in our records."
            )
            run_id = None
            if role == "assistant":
                failed = t % 7 == 0 and i == n - 1
                run = Run(
                    id=new_id("run_"),
                    project=project,
                    thread=thread,
                    assistant_id=assistant,
                    model="fake-model",
                    status="failed" if failed else "completed",
                    created_at=at - timedelta(seconds=2),
                    last_error={"code": "server_error", "message": "provider timed out"} if failed else None,
                    usage={"prompt_tokens": 500, "completion_tokens": 80, "total_tokens": 580},
                )
                runs.append(run)
                run_id = run.id
            messages.append(
                Message(
                    id=new_id("msg_"),
                    thread=thread,
                    role=role,
                    created_at=at,
                    run_id=run_id,
                    assistant_id=assistant if role == "assistant" else None,
                    content=[{"type": "text", "text": {"value": text, "annotations": []}}],
                )
            )
    last = {}
    for message in messages:
        last[message.thread_id] = max(last.get(message.thread_id, message.created_at), message.created_at)
    for thread in threads:
        thread.last_activity_at = last.get(thread.id, thread.created_at)
    Thread.objects.bulk_create(threads, batch_size=1000)
    Run.objects.bulk_create(runs, batch_size=1000)
    Message.objects.bulk_create(messages, batch_size=1000)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # planner statistics, as autovacuum would gather them
    return {
        "project": project.pk,
        "key": key,
        "threads": len(threads),
        "messages": len(messages),
        "runs": len(runs),
    }


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        self.redis_port, self.web_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "VAR_DIR": str(tmp / "var"),
            "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CONSOLE_SELF_URL": f"http://127.0.0.1:{self.web_port}/v1",
            "LOG_LEVEL": "WARNING",
        }

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115
        self.procs.append(
            subprocess.Popen(
                cmd, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    def start(self) -> None:
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

    def serve(self) -> None:
        import httpx

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
            ],
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"web server did not answer; see {self.tmp / 'web.log'}")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def timed(client: Any, url: str, iterations: int, **kwargs: Any) -> list[float]:
    for _ in range(10):
        assert client.get(url, **kwargs).status_code == 200
    out = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        response = client.get(url, **kwargs)
        out.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    return out


def measure(stack: Stack, seeded: dict[str, Any], iterations: int) -> dict[str, Any]:
    import httpx

    console = httpx.Client(base_url=stack.base, timeout=60)
    console.get("/login")
    console.post(
        "/login",
        data={"username": "bench", "password": PASSWORD, "csrfmiddlewaretoken": console.cookies["csrftoken"]},
        headers={"Referer": f"{stack.base}/login"},
    )
    page = f"/p/{seeded['project']}/threads"
    first = console.get(page).text
    assert first.count('<td class="conv">') == 50 and "Question 0 about my" in first, (
        "not the expected first screen"
    )
    api = httpx.Client(
        base_url=stack.base + "/v1",
        timeout=60,
        headers={"Authorization": f"Bearer {seeded['key']}", "OpenAI-Beta": "assistants=v2"},
    )
    params = {"order_by": "last_activity", "include[]": "summary", "limit": 50}
    found = console.get(page, params={"q": "refund"}).text
    assert 'class="snippet"' in found, "search shows no snippet"
    return {
        "console_first_screen_ms": summary(timed(console, page, iterations)),
        "api_threads_ms": summary(timed(api, "/threads", iterations, params=params)),
        "console_search_ms": summary(timed(console, page, iterations, params={"q": "refund"})),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=10000)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--out", help="write the results as JSON here too")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-threads-"))
    stack = Stack(tmp)
    try:
        stack.start()
        t0 = time.monotonic()
        seeded = seed(stack.env, args.threads)
        seeded["seed_s"] = round(time.monotonic() - t0, 1)
        stack.serve()
        results = {
            "config": {
                **{k: v for k, v in seeded.items() if k not in ("key",)},
                "db": "postgresql" if stack.env["DATABASE_URL"] else "sqlite",
                "iterations": args.iterations,
                "cpus": os.cpu_count(),
            },
            **measure(stack, seeded, args.iterations),
        }
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    results["verdict"] = {
        "console_first_screen_p95_ms<=100": results["console_first_screen_ms"]["p95"] <= TARGET_P95_MS
    }
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
