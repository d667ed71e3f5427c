"""The API while Redis is down: requests that need the queue answer 503 at once and store nothing;
reads keep working; once Redis is back, the same thread takes a run.

The server runs as `make run` runs it (uvicorn, its own process) on the test database, with a
redis-server of this test's own that the test stops and starts again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pytest
from django.db import connection

from console.launcher import free_port
from console.runs.models import Run
from console.threads.models import Thread
from console.vector_stores.models import VectorStoreFile
from tests.contract import check_response
from tests.events.redis_fault import PrivateRedis

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    """The test database (pytest-django's, under its own name), for another process."""
    found = connection.settings_dict
    if found["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{found['NAME']}"
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + quote(found["NAME"])))


@pytest.fixture
def outage(tmp_path, owner) -> Iterator[tuple[httpx.Client, PrivateRedis]]:
    redis_server = PrivateRedis(tmp_path / "redis")
    redis_server.start()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_server.url,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
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
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    # The bound a request that needs Redis must answer within.
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}/v1/",
        headers={"Authorization": f"Bearer {owner.key}", "OpenAI-Beta": "assistants=v2"},
        timeout=2.0,
        event_hooks={"response": [check_response]},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if client.get("assistants").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield client, redis_server
    finally:
        client.close()
        server.kill()  # a test server: nothing to shut down cleanly
        server.wait(timeout=20)
        log.close()
        redis_server.stop()


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["type"] == "server_error" and error["code"] == "queue_unavailable"
    assert "queue is unavailable" in error["message"]
    assert response.headers["Retry-After"] == "1"


def test_it_answers_503_at_once_and_keeps_nothing_while_redis_is_down(outage):
    api, redis_server = outage
    assistant_id = api.post("assistants", json={"model": "fake-model"}).json()["id"]
    thread_id = api.post("threads", json={"messages": [{"role": "user", "content": "Hi"}]}).json()["id"]
    file_id = api.post(
        "files", files={"file": ("a.txt", b"some words")}, data={"purpose": "assistants"}
    ).json()["id"]
    store_id = api.post("vector_stores", json={"name": "docs"}).json()["id"]
    threads_before = Thread.objects.count()

    redis_server.stop()
    _assert_unavailable(api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}))
    _assert_unavailable(
        api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "stream": True})
    )
    _assert_unavailable(
        api.post(
            "threads/runs",
            json={"assistant_id": assistant_id, "thread": {"messages": [{"role": "user", "content": "Hi"}]}},
        )
    )
    _assert_unavailable(api.post(f"vector_stores/{store_id}/files", json={"file_id": file_id}))
    assert not Run.objects.exists()
    assert Thread.objects.count() == threads_before
    assert not VectorStoreFile.objects.filter(store_id=store_id).exists()

    # Reads need no Redis.
    assert api.get(f"threads/{thread_id}").json()["id"] == thread_id
    assert api.get(f"threads/{thread_id}/runs").json()["data"] == []
    assert api.get(f"threads/{thread_id}/messages").json()["data"][0]["content"][0]["text"]["value"] == "Hi"
    assert api.get(f"assistants/{assistant_id}").status_code == 200

    redis_server.start()  # the thread was never blocked: it takes a run at once
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    assert run["status"] == "queued"
    assert Run.objects.get(pk=run["id"]).status == "queued"
    cancelled = api.post(f"threads/{thread_id}/runs/{run['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
