"""console/asgi.py through a real server: the two layers that lean on Django's and asgiref's workings.

If a Django or asgiref upgrade stops honouring them, these fail (rather than the API just slowing).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.core.signals import request_started


@pytest.fixture
def request_threads() -> Iterator[list[str]]:
    names: list[str] = []

    def record(**_: Any) -> None:
        names.append(threading.current_thread().name)

    request_started.connect(record, weak=False)
    yield names
    request_started.disconnect(record)


def test_it_runs_only_the_api_middleware_on_v1(live_url: str, transactional_db: None) -> None:
    api = httpx.get(f"{live_url}/v1/assistants", timeout=10)
    assert api.status_code == 401
    assert api.json()["error"]["type"] == "invalid_request_error"
    # The console's middleware (security, clickjacking, sessions) left no trace on /v1.
    assert "x-frame-options" not in api.headers
    assert "x-content-type-options" not in api.headers
    assert "set-cookie" not in api.headers

    console = httpx.get(f"{live_url}/", timeout=10)
    assert console.headers["x-frame-options"] == "DENY"
    assert console.headers["x-content-type-options"] == "nosniff"


def test_it_runs_sequential_requests_on_one_kept_thread(
    live_url: str, transactional_db: None, request_threads: list[str]
) -> None:
    with httpx.Client(base_url=live_url, timeout=10) as client:
        for path in ("/v1/assistants", "/v1/threads/thread_x", "/", "/v1/assistants"):
            client.get(path)

    assert len(request_threads) == 4
    # Our executors' threads, not the one Django's handler would start per request.
    assert all(name.startswith("request") for name in request_threads), request_threads
    assert len(set(request_threads)) == 1, request_threads
