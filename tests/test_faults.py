"""Faults, end to end: the product started as `make run` starts it, then broken from outside.

The launcher runs with its own VAR_DIR, SQLite, a private Redis it supervises and the fake provider
(slow streams). Then: the worker is killed with SIGKILL while runs stream; the private Redis is
stopped while runs stream (the launcher starts it again); a web server is killed while the other serves; and Ctrl-C stops
everything with nothing left behind. The tests run in this order, on one product.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from console.launcher import free_port, redis_answers
from tests.fakeprovider import FakeProvider, Text
from tests.launched import start_launcher

# 400 words at 40 ms: a run streams for about 16 s.
SLOW = Text(" ".join(f"w{i}" for i in range(400)), delay=0.04)
QUICK = Text("Back in business.")
TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}


@dataclass
class Product:
    process: subprocess.Popen[str]
    base: str
    key: str
    provider: FakeProvider
    redis_port: int
    output: list[str] = field(default_factory=list)

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.base}/v1/", headers={"Authorization": f"Bearer {self.key}"}, timeout=10
        )

    def pids(self, name: str) -> list[int]:
        """Every pid the launcher started for `name`, oldest first."""
        pattern = re.compile(rf"^{re.escape(name)} (?:started|restarted) \(pid (\d+)\)")
        return [int(m.group(1)) for line in list(self.output) if (m := pattern.match(line))]

    def wait_line(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.output):
                if re.search(pattern, line):
                    return line
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.output)}")


def _read(process: subprocess.Popen[str], output: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)


@contextlib.contextmanager
def launched(provider: FakeProvider, var_dir: Path, **settings: str) -> Iterator[Product]:
    """The product as `make run` starts it, with its own VAR_DIR and private Redis, on `provider`;
    stopped with Ctrl-C (SIGINT) after."""
    port = free_port()
    env = {"DATABASE_URL": "", "WEB_CONCURRENCY": "2", "WORKER_CONCURRENCY": "20", **settings}
    process = start_launcher(
        VAR_DIR=str(var_dir),
        PORT=str(port),
        PRIVATE_REDIS="1",
        LLM_BASE_URL=provider.base_url,
        LLM_API_KEY="sk-fake",
        **env,
    )
    output: list[str] = []
    threading.Thread(target=_read, args=(process, output), daemon=True).start()
    try:
        found = Product(process, f"http://127.0.0.1:{port}", "", provider, 0, output)
        found.wait_line(r"Press Ctrl-C", 180)
        text = "".join(output)
        found.key = re.search(r"API key \(project 'Default'\): (sk-proj-\S+)", text).group(1)
        found.redis_port = int(re.search(r"private Redis at redis://127\.0\.0\.1:(\d+)/", text).group(1))
        yield found
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        provider.close()


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    provider = FakeProvider(default=SLOW, record=False)
    with launched(provider, tmp_path_factory.mktemp("faults") / "var") as found:
        yield found


def _start_runs(api: httpx.Client, count: int) -> list[tuple[str, str]]:
    assistant = api.post("assistants", json={"model": "fake-model"}).json()["id"]
    runs = []
    for i in range(count):
        body = {"assistant_id": assistant, "thread": {"messages": [{"role": "user", "content": f"Talk {i}"}]}}
        response = api.post("threads/runs", json=body)
        assert response.status_code == 200, response.text
        runs.append((response.json()["thread_id"], response.json()["id"]))
    return runs


def _assistant_text(api: httpx.Client, thread_id: str) -> tuple[str, str] | None:
    """(status, text) of the thread's assistant message, once it has one."""
    for message in api.get(f"threads/{thread_id}/messages").json()["data"]:
        if message["role"] == "assistant":
            parts = [part["text"]["value"] for part in message["content"] if part["type"] == "text"]
            return message["status"], "".join(parts)
    return None


def _wait(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_it_restarts_a_killed_worker_and_ends_its_runs_keeping_their_text(product: Product):
    product.provider.default = SLOW
    with product.api() as api:
        runs = _start_runs(api, 2)
        # The text streamed so far reaches the stored message while the run is still going.
        for thread_id, _ in runs:
            _wait(
                lambda t=thread_id: (
                    (found := _assistant_text(api, t)) and found[0] == "in_progress" and found[1]
                ),
                30,
                "partial text",
            )
        worker = product.pids("worker")[-1]
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()

        product.wait_line(rf"^worker \(pid {worker}\) died: killed by signal SIGKILL", 10)
        assert api.get("assistants").status_code == 200  # the API keeps answering
        _wait(lambda: len(product.pids("worker")) >= 2, 40, "the worker to be restarted")

        for thread_id, run_id in runs:
            run = _wait(
                lambda t=thread_id, r=run_id: (
                    (got := api.get(f"threads/{t}/runs/{r}").json())["status"] in TERMINAL and got
                ),
                max(1.0, killed_at + 40 - time.monotonic()),
                f"run {run_id} to end within 40 s of the kill",
            )
            assert run["status"] == "completed" or run["last_error"]["message"], run
            status, text = _assistant_text(api, thread_id)
            if run["status"] == "failed":
                assert status == "incomplete"
                assert text and SLOW.text.startswith(text), text
        # The restarted worker executes new runs.
        product.provider.default = QUICK
        ((thread_id, run_id),) = _start_runs(api, 1)
        _wait(
            lambda: api.get(f"threads/{thread_id}/runs/{run_id}").json()["status"] == "completed",
            30,
            "a new run",
        )
    assert product.process.poll() is None


def test_it_survives_a_redis_restart_while_runs_stream(product: Product):
    product.provider.default = Text(" ".join(f"r{i}" for i in range(150)), delay=0.04)
    with product.api() as api:
        runs = _start_runs(api, 2)
        for thread_id, _ in runs:
            _wait(
                lambda t=thread_id: (found := _assistant_text(api, t)) and found[1], 30, "streaming to start"
            )
        redis = product.pids("redis")[-1]
        lines_before = len(product.output)
        os.kill(redis, signal.SIGTERM)  # stopped; the launcher starts it again
        product.wait_line(rf"^redis \(pid {redis}\) died", 10)
        _wait(lambda: redis_answers("127.0.0.1", product.redis_port), 40, "Redis to be back")
        back = time.monotonic()

        # Within 10 s of Redis returning, a new run completes and an upload is ingested.
        product.provider.default = QUICK

        def new_run_completes() -> bool:
            try:
                ((thread_id, run_id),) = _start_runs(api, 1)
            except (AssertionError, httpx.HTTPError):
                return False
            _wait(
                lambda: api.get(f"threads/{thread_id}/runs/{run_id}").json()["status"] in TERMINAL,
                max(1.0, back + 10 - time.monotonic()),
                "the new run",
            )
            return api.get(f"threads/{thread_id}/runs/{run_id}").json()["status"] == "completed"

        _wait(new_run_completes, max(1.0, back + 10 - time.monotonic()), "a new run to complete")
        upload = api.post(
            "files", data={"purpose": "assistants"}, files={"file": ("note.txt", b"The vault code is 4417.")}
        )
        assert upload.status_code == 200, upload.text
        store = api.post("vector_stores", json={"file_ids": [upload.json()["id"]]}).json()["id"]
        _wait(
            lambda: api.get(f"vector_stores/{store}").json()["file_counts"]["completed"] == 1,
            max(1.0, back + 10 - time.monotonic()),
            "ingestion",
        )

        # The runs in flight end: completed, or failed with a clear last_error.
        for thread_id, run_id in runs:
            run = _wait(
                lambda t=thread_id, r=run_id: (
                    (got := api.get(f"threads/{t}/runs/{r}").json())["status"] in TERMINAL and got
                ),
                60,
                f"run {run_id} to end",
            )
            assert run["status"] == "completed" or run["last_error"]["message"], run
    # No process but Redis died: the worker, beat and web servers rode it out.
    deaths = [line for line in product.output[lines_before:] if " died: " in line]
    assert all(line.startswith("redis ") for line in deaths), deaths
    assert product.process.poll() is None


def test_it_restarts_a_killed_web_server_while_the_others_serve(product: Product):
    web = product.pids("web-1")[-1]
    os.kill(web, signal.SIGKILL)
    product.wait_line(rf"^web-1 \(pid {web}\) died: killed by signal SIGKILL", 10)
    with product.api() as api:
        for _ in range(5):  # the port never refuses: web-2 takes every connection meanwhile
            assert api.get("assistants").status_code == 200
    _wait(lambda: len(product.pids("web-1")) >= 2, 30, "web-1 to be restarted")


def test_it_stops_everything_on_ctrl_c(product: Product):
    started = [int(pid) for pid in re.findall(r"started \(pid (\d+)\)", "".join(product.output))]
    assert len(started) >= 5  # redis, worker, beat, two web servers (plus restarts)
    product.process.send_signal(signal.SIGINT)
    assert product.process.wait(timeout=60) == 0
    _wait(lambda: not any(_alive(pid) for pid in started), 10, "every child to be gone")
    # Nor anything they started: no process is left in their process groups.
    groups = set(started)
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in groups and fields[0] != "Z":
            left.append(stat.parent.name)
    assert not left, left
