"""Several machines on one: two web processes, two workers and beat, sharing PostgreSQL, Redis and S3.

Each process has its own VAR_DIR, MEDIA_ROOT and SANDBOX_ROOT, as if on its own machine; they share
the test's PostgreSQL database, one private Redis and moto's S3 server on loopback. The clients
alternate between the two web processes. Runs on PostgreSQL only (`make test-postgres`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection

from tests.fakeprovider import Call, FakeProvider, Text, ToolCalls
from tests.runs.helpers import read_events
from tests.s3 import S3Server, moto_server

BASE_DIR = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="multi-node needs PostgreSQL: it runs in make test-postgres"
    ),
    pytest.mark.timeout(300),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Cluster:
    webs: list[str]
    workers: dict[str, subprocess.Popen]  # node name -> process
    s3: S3Server
    redis: Any
    redis_url: str
    provider: FakeProvider
    dirs: list[Path] = field(default_factory=list)

    def sdk(self, index: int, key: str):  # type: ignore[no-untyped-def]
        import openai

        return openai.OpenAI(base_url=f"{self.webs[index % 2]}/v1", api_key=key, max_retries=0)


def _database_url() -> str:
    """The server's DATABASE_URL, naming the test database pytest-django created."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@pytest.fixture(scope="module")
def cluster(django_db_setup: None, django_db_blocker: Any) -> Iterator[Cluster]:
    import redis as redis_py

    from console.launcher import find_redis_server, start_private_redis

    work = Path(tempfile.mkdtemp(prefix="multinode-", dir=os.environ.get("VAR_DIR")))
    binary = find_redis_server()
    assert binary, "redis-server must be installed"
    redis_process, redis_url = start_private_redis(binary, work / "redis")
    provider = FakeProvider()
    processes: list[subprocess.Popen] = []
    with django_db_blocker.unblock():
        database_url = _database_url()
    with moto_server() as s3:
        base = {
            **os.environ,
            **s3.env("multinode"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "multinode-test",
            "LLM_BASE_URL": provider.base_url,
            "LLM_API_KEY": "test",
            "DB_POOL_MAX": "4",
            "RUN_HEARTBEAT_SECONDS": "1",
            "RUN_HEARTBEAT_TIMEOUT": "4",
            "PROVIDER_RETRY_BACKOFF": "0.05",
            "SANDBOX_MAX_SESSIONS": "4",
            "LOG_LEVEL": "WARNING",
        }

        def start(name: str, argv: list[str], **extra: str) -> subprocess.Popen:
            home = work / name
            home.mkdir(parents=True)
            env = {
                **base,
                "VAR_DIR": str(home / "var"),
                "MEDIA_ROOT": str(home / "media"),
                "SANDBOX_ROOT": str(home / "sandbox"),
                **extra,
            }
            log = open(home.with_suffix(".log"), "wb")  # noqa: SIM115 - closed with the process
            process = subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
            processes.append(process)
            return process

        python = sys.executable
        webs = []
        for i in range(2):
            port = _free_port()
            start(
                f"web{i}",
                [
                    python,
                    "-m",
                    "uvicorn",
                    "console.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
            )
            webs.append(f"http://127.0.0.1:{port}")
        workers = {}
        for i in range(2):
            # Two SANDBOX_ROOTs on one host need their own uid ranges (docs/sandbox.md).
            workers[f"w{i}"] = start(
                f"worker{i}",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "console",
                    "worker",
                    "--pool",
                    "threads",
                    "--concurrency",
                    "16",
                    "-n",
                    f"w{i}@multinode",
                    "--loglevel",
                    "WARNING",
                    "--without-gossip",
                    "--without-mingle",
                ],
                SANDBOX_UID_BASE=str(62000 + 100 * i),
            )
        start(
            "beat",
            [
                python,
                "-m",
                "celery",
                "-A",
                "console",
                "beat",
                "--loglevel",
                "WARNING",
                "--schedule",
                str(work / "beat" / "schedule"),
            ],
        )
        redis = redis_py.Redis.from_url(redis_url)
        try:
            for web in webs:
                _wait(lambda web=web: _answers(web), 60, f"{web} to start")
            _wait(lambda: len(redis.keys("sandbox:alive:*")) == 2, 60, "both workers to start")
            yield Cluster(
                webs=webs,
                workers=workers,
                s3=s3,
                redis=redis,
                redis_url=redis_url,
                provider=provider,
                dirs=[work],
            )
        finally:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            provider.close()
            redis_process.terminate()
            redis_process.wait(timeout=10)
            shutil.rmtree(work, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/assistants", timeout=2).status_code == 401
    except httpx.HTTPError:
        return False


def code_call(code: str) -> ToolCalls:
    return ToolCalls([Call("code_interpreter", json.dumps({"code": code}))])


def _code_logs(client, thread_id: str, run_id: str) -> str:  # type: ignore[no-untyped-def]
    steps = client.beta.threads.runs.steps.list(run_id, thread_id=thread_id)
    logs = []
    for step in steps.data:
        if step.step_details.type == "tool_calls":
            for call in step.step_details.tool_calls:
                logs += [o.logs for o in call.code_interpreter.outputs if o.type == "logs"]
    return "".join(logs)


def test_it_ingests_a_batch_of_50_files_uploaded_through_both_webs(cluster, owner):
    clients = [cluster.sdk(i, owner.key) for i in range(2)]
    file_ids = []
    for i in range(50):
        body = f"Document {i}. The codeword of document {i} is zebra{i}.\n".encode()
        file_ids.append(clients[i % 2].files.create(file=(f"doc{i}.txt", body), purpose="assistants").id)
    store = clients[0].vector_stores.create(name="fifty")
    batch = clients[1].vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=file_ids, poll_interval_ms=200
    )
    assert batch.status == "completed"
    assert batch.file_counts.completed == 50 and batch.file_counts.failed == 0

    # Stored in S3, and nowhere on the processes' own disks.
    keys = {
        item["Key"]
        for page in cluster.s3.client()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=cluster.s3.bucket, Prefix="multinode/files/")
        for item in page.get("Contents", [])
    }
    assert {key.rsplit("/", 1)[-1] for key in keys} >= set(file_ids)
    assert not [p for p in cluster.dirs[0].glob("*/media/files/**/*") if p.is_file()]
    # Both webs serve any file's bytes.
    assert (
        clients[1].files.content(file_ids[0]).read() == b"Document 0. The codeword of document 0 is zebra0.\n"
    )
    assert (
        clients[0].files.content(file_ids[1]).read() == b"Document 1. The codeword of document 1 is zebra1.\n"
    )
    # A deleted file's object is gone.
    clients[0].files.delete(file_ids[2])
    remaining = cluster.s3.client().list_objects_v2(Bucket=cluster.s3.bucket, Prefix="multinode/files/")
    assert not [o for o in remaining.get("Contents", []) if o["Key"].endswith(file_ids[2])]


def _workers_take_runs(cluster: Cluster, *nodes: str) -> None:
    """Lets only `nodes` take runs from the shared queue; every worker keeps its own queue."""
    from celery import Celery

    # Not the current app: the test process's own tasks must still go to the session's broker.
    control = Celery(broker=cluster.redis_url, set_as_current=False).control
    for name in cluster.workers:
        if cluster.workers[name].poll() is not None:
            continue
        destination = [f"{name}@multinode"]
        if name in nodes:
            replies = control.add_consumer("celery", destination=destination, reply=True, timeout=10)
        else:
            replies = control.cancel_consumer("celery", destination=destination, reply=True, timeout=10)
        assert replies, f"{name} did not answer"


def test_it_keeps_a_threads_code_state_over_ten_runs_whichever_worker_runs_them(cluster, owner):
    clients = [cluster.sdk(i, owner.key) for i in range(2)]
    assistant = clients[0].beta.assistants.create(model="fake", tools=[{"type": "code_interpreter"}])
    # The first value comes from an input file, read from S3 onto whichever worker runs the code.
    start = clients[0].files.create(file=("start.txt", b"1"), purpose="assistants")
    thread = clients[1].beta.threads.create(tool_resources={"code_interpreter": {"file_ids": [start.id]}})
    first = "x = int(open('/mnt/data/start.txt').read())\nopen('/mnt/data/out.txt', 'w').write('from the sandbox')\nprint(x)"
    holder = None
    try:
        for i in range(1, 11):
            if i == 2:  # runs 2-6 execute on the other worker and reach the session through its queue
                holder = cluster.redis.get(f"sandbox:thread:{thread.id}").decode().split(".")[1].split("@")[0]
                _workers_take_runs(cluster, next(name for name in cluster.workers if name != holder))
            if i == 7:  # runs 7-10 execute where the session is
                _workers_take_runs(cluster, holder)
            cluster.provider.script(code_call(first if i == 1 else "x += 1\nprint(x)"), Text(f"x is {i}"))
            client = clients[i % 2]
            client.beta.threads.messages.create(thread.id, role="user", content="add one")
            run = client.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100
            )
            assert run.status == "completed", run.last_error
            assert _code_logs(clients[(i + 1) % 2], thread.id, run.id) == f"{i}\n"
    finally:
        _workers_take_runs(cluster, *cluster.workers)
    # The file the code wrote is stored in S3 and served by both webs.
    written = [f for f in clients[0].files.list(purpose="assistants_output") if f.filename == "out.txt"]
    assert len(written) == 1
    assert clients[1].files.content(written[0].id).read() == b"from the sandbox"
    # The session stayed with the worker that started it.
    assert cluster.redis.get(f"sandbox:thread:{thread.id}").decode().split(".")[1] == f"{holder}@multinode"


def test_it_streams_a_run_created_on_one_web_from_the_other(cluster, owner):
    clients = [cluster.sdk(i, owner.key) for i in range(2)]
    cluster.provider.script(Text("streamed across machines", delay=0.05))
    assistant = clients[0].beta.assistants.create(model="fake")
    thread = clients[0].beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = clients[0].beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    headers = {"Authorization": f"Bearer {owner.key}", "OpenAI-Beta": "assistants=v2"}
    url = f"{cluster.webs[1]}/v1/threads/{thread.id}/runs/{run.id}/events"
    with httpx.stream("GET", url, headers=headers, timeout=60) as response:
        assert response.status_code == 200
        events = read_events(response)
    names = [name for name, _ in events]
    assert names[0] == "thread.run.created" and names[-2:] == ["thread.run.completed", "done"]
    text = "".join(
        part["text"]["value"]
        for name, data in events
        if name == "thread.message.delta"
        for part in data["delta"]["content"]
    )
    assert text == "streamed across machines"
    assert clients[1].beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "completed"


def test_it_survives_a_worker_killed_mid_run(cluster, owner):
    client = cluster.sdk(0, owner.key)
    other = cluster.sdk(1, owner.key)
    assistant = client.beta.assistants.create(model="fake", tools=[{"type": "code_interpreter"}])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    cluster.provider.script(code_call("y = 5\nprint(y)"), Text("stored"))
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100
    )
    assert run.status == "completed"
    victim_name = cluster.redis.get(f"sandbox:thread:{thread.id}").decode().split(".")[1].split("@")[0]
    survivor_name = next(name for name in cluster.workers if name != victim_name)
    victim = cluster.workers[victim_name]

    # The next run executes on the survivor, which sends its code to the victim holding the session;
    # the victim is killed in the middle of that call.
    _workers_take_runs(cluster, survivor_name)
    try:
        cluster.provider.script(code_call("import time\ntime.sleep(2)\nprint(y)"), Text("after the crash"))
        run = other.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        _wait(
            lambda: any(
                s.type == "tool_calls"
                for s in other.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
            ),
            30,
            "the code call to start",
        )
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        run = _wait(
            lambda: (
                (r := client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)).status
                in {"completed", "failed"}
                and r
            ),
            60,
            "the interrupted run to end",
        )
        # The survivor started a new session, told the model so, and finished the run.
        assert run.status == "completed", run.last_error
        logs = _code_logs(client, thread.id, run.id)
        assert "was lost" in logs and "NameError" in logs
        messages = client.beta.threads.messages.list(thread.id, run_id=run.id)
        assert messages.data[0].content[0].text.value == "after the crash"

        # Later runs work, on the survivor, in its new session.
        cluster.provider.script(code_call("y = 7\nprint(y * 6)"), Text("fine"))
        client.beta.threads.messages.create(thread.id, role="user", content="again")
        run = other.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100
        )
        assert run.status == "completed", run.last_error
        assert _code_logs(client, thread.id, run.id) == "42\n"
        holder = cluster.redis.get(f"sandbox:thread:{thread.id}").decode()
        assert holder.split(".")[1] == f"{survivor_name}@multinode"
    finally:
        _workers_take_runs(cluster, *cluster.workers)
