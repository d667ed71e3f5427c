"""Shared fixtures: a real HTTP server on loopback, projects with keys, and clients."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from django.conf import settings

from tests.contract import check_response

# The server thread must not keep connections open across tests (PostgreSQL cannot
# drop the test database while one is open).
settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _ThreadedServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # pragma: no cover - uvicorn API differs by version
        pass


@pytest.fixture(scope="session")
def live_url(django_db_setup: None, redis_url: str) -> Iterator[str]:
    """The ASGI app, as `make run` serves it, on a loopback port in this process.

    It needs the private Redis first, so no request can queue a task anywhere else.
    """
    from console.asgi import application

    port = _free_port()
    config = uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = _ThreadedServer(config)

    async def serve() -> None:
        from console.providers.http import aclose_async_client

        await server.serve()
        await aclose_async_client()  # the provider client of this loop (pass-through, /v1/models)

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@dataclass
class Tenant:
    project: object
    key: str


def _tenant(name: str) -> Tenant:
    from console.projects.services import create_api_key, get_or_create_project

    project = get_or_create_project(name)
    _, raw = create_api_key(project)
    return Tenant(project=project, key=raw)


@pytest.fixture
def owner(transactional_db: None) -> Tenant:
    return _tenant("owner-project")


@pytest.fixture
def outsider(transactional_db: None) -> Tenant:
    return _tenant("outsider-project")


def _client(base_url: str, key: str | None) -> httpx.Client:
    headers = {"OpenAI-Beta": "assistants=v2"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.Client(
        base_url=f"{base_url}/v1/",
        headers=headers,
        timeout=30,
        event_hooks={"response": [check_response]},
    )


@pytest.fixture
def api(live_url: str, owner: Tenant) -> Iterator[httpx.Client]:
    """Raw HTTP as the owner project; every response is checked against the OpenAPI contract."""
    with _client(live_url, owner.key) as client:
        yield client


@pytest.fixture
def outsider_api(live_url: str, outsider: Tenant) -> Iterator[httpx.Client]:
    with _client(live_url, outsider.key) as client:
        yield client


@pytest.fixture
def anonymous_api(live_url: str, transactional_db: None) -> Iterator[httpx.Client]:
    with _client(live_url, None) as client:
        yield client


@pytest.fixture
def sdk(live_url: str, owner: Tenant):  # type: ignore[no-untyped-def]
    """The official openai SDK, unchanged but for base_url."""
    import openai

    client = openai.OpenAI(base_url=f"{live_url}/v1", api_key=owner.key, max_retries=0)
    yield client
    client.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A private redis-server for the session, so tests never share queues with anything else."""
    import tempfile
    from pathlib import Path

    from console import celery_app
    from console.events import stream
    from console.launcher import find_redis_server, start_private_redis

    binary = find_redis_server()
    assert binary, "redis-server must be installed (.ci/run installs it)"
    process, url = start_private_redis(binary, Path(tempfile.mkdtemp(prefix="test-redis-")))
    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url
    celery_app.conf.broker_url = url
    stream._sync_client = None
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(autouse=True)
def _no_failed_attempts_counted(request: pytest.FixtureRequest) -> None:
    """Every test that reaches the server starts with no failed key or password attempts counted
    against 127.0.0.1 (the brute-force brakes, console/events/counters.py, live in Redis)."""
    if "redis_url" in request.fixturenames:
        import redis

        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        keys = list(client.scan_iter("auth:failures:*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(scope="session")
def worker(live_url: str, redis_url: str) -> Iterator[None]:
    """A real Celery worker (threads pool) consuming from the real Redis, in this process."""
    from celery.contrib.testing.worker import start_worker

    from console import celery_app

    with start_worker(
        celery_app,
        pool="threads",
        concurrency=16,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=10,
    ):
        yield
    from console.engine import loop
    from console.providers.http import aclose_async_client

    loop.run(aclose_async_client())  # the engine loop's provider client


@pytest.fixture(scope="session")
def provider_server() -> Iterator[object]:
    from tests.fakeprovider import FakeProvider

    server = FakeProvider()
    yield server
    server.close()


@pytest.fixture
def provider(provider_server, worker, settings):  # type: ignore[no-untyped-def]
    """The fake model provider, scripted per test; runs are routed to it (through Django settings,
    which console/settings.py parses from the environment once)."""
    provider_server.reset()
    settings.PROVIDER_RETRY_BACKOFF = 0.01
    settings.LLM_BASE_URL = provider_server.base_url
    settings.LLM_API_KEY = "test-provider-key"
    settings.LLM_PROVIDERS = ()
    yield provider_server
    provider_server.reset()
