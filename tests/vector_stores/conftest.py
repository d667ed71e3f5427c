"""Vector store tests run against a real Celery worker: ingestion happens in it, as in production."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

# A PDF that is not one: a header and nothing a parser can read.
CORRUPT_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\n%% truncated here"


@pytest.fixture
def vs_api(api: httpx.Client, worker: None) -> httpx.Client:
    """The owner's raw HTTP client, with a worker ingesting files."""
    return api


def upload(api: httpx.Client, name: str = "notes.txt", content: bytes = b"hello world") -> str:
    r = api.post("files", files={"file": (name, content)}, data={"purpose": "assistants"})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def make_files(project: Any, contents: list[tuple[str, bytes]]) -> list[str]:
    """Stores files directly through the service: quicker than hundreds of uploads."""
    from console.files.services import create_file

    return [
        create_file(
            project,
            source=io.BytesIO(data),
            source_path=None,
            filename=name,
            purpose="assistants",
            size=len(data),
        ).id
        for name, data in contents
    ]


def wait_for(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def wait_file(api: httpx.Client, store_id: str, file_id: str, timeout: float = 30.0) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = api.get(f"vector_stores/{store_id}/files/{file_id}").json()
        return body if body["status"] != "in_progress" else None

    return wait_for(done, timeout)  # type: ignore[no-any-return]


def wait_store(api: httpx.Client, store_id: str, timeout: float = 30.0) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = api.get(f"vector_stores/{store_id}").json()
        return body if body["file_counts"]["in_progress"] == 0 else None

    return wait_for(done, timeout)  # type: ignore[no-any-return]


def wait_batch(api: httpx.Client, store_id: str, batch_id: str, timeout: float = 60.0) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = api.get(f"vector_stores/{store_id}/file_batches/{batch_id}").json()
        return body if body["file_counts"]["in_progress"] == 0 else None

    return wait_for(done, timeout)  # type: ignore[no-any-return]


def chunk_count(store_id: str, file_id: str | None = None) -> int:
    from console.retrieval.models import Chunk

    chunks = Chunk.objects.filter(vector_store_id=store_id)
    if file_id is not None:
        chunks = chunks.filter(file_id=file_id)
    return chunks.count()
