"""Vector stores through the unchanged SDK: client.vector_stores on 2.x and later, client.beta.vector_stores
on 1.x. Ingestion runs on a real worker."""

from __future__ import annotations

import openai
import pytest

from console.vector_stores.models import VectorStore as StoreRow
from console.vector_stores.models import VectorStoreFile as FileRow
from tests.sdk.conftest import SDK_MAJOR, strictly

POLL_MS = 50


@pytest.fixture
def stores(sdk, worker):  # type: ignore[no-untyped-def]
    return sdk.vector_stores if SDK_MAJOR >= 2 else sdk.beta.vector_stores


def _upload(sdk, name: str = "notes.txt", content: bytes = b"Sloths sleep up to fifteen hours a day."):  # type: ignore[no-untyped-def]
    return sdk.files.create(file=(name, content, "text/plain"), purpose="assistants")


def test_it_creates_retrieves_updates_lists_and_deletes_a_store(stores):
    created = stores.create(name="Support FAQ", metadata={"team": "support"})
    assert strictly(created) == created
    assert created.id.startswith("vs_") and created.object == "vector_store"
    assert created.name == "Support FAQ" and created.status == "completed"
    assert created.file_counts.total == 0 and created.usage_bytes == 0

    fetched = stores.retrieve(created.id)
    assert fetched.model_dump() == created.model_dump()

    updated = stores.update(created.id, name="FAQ", expires_after={"anchor": "last_active_at", "days": 2})
    assert strictly(updated) == updated
    assert updated.name == "FAQ" and updated.expires_after is not None and updated.expires_after.days == 2
    assert updated.expires_at is not None
    assert StoreRow.objects.get(pk=created.id).name == "FAQ"

    other = stores.create(name="second")
    page = stores.list(limit=1)
    assert [s.id for s in page.data] == [other.id] and page.has_next_page()
    assert [s.id for s in stores.list(order="asc")] == [created.id, other.id]

    deleted = stores.delete(created.id)
    assert deleted.id == created.id and deleted.deleted is True and deleted.object == "vector_store.deleted"
    with pytest.raises(openai.NotFoundError):
        stores.retrieve(created.id)


def test_it_creates_a_store_with_files(sdk, stores):
    file = _upload(sdk)
    store = stores.create(
        name="with files",
        file_ids=[file.id],
        chunking_strategy={
            "type": "static",
            "static": {"max_chunk_size_tokens": 300, "chunk_overlap_tokens": 100},
        },
    )
    assert store.file_counts.total == 1
    vs_file = stores.files.poll(file.id, vector_store_id=store.id, poll_interval_ms=POLL_MS)
    assert strictly(vs_file) == vs_file
    assert vs_file.status == "completed" and vs_file.chunking_strategy is not None
    assert vs_file.chunking_strategy.type == "static"
    assert vs_file.chunking_strategy.static.max_chunk_size_tokens == 300


def test_files_upload_and_poll(stores):
    store = stores.create(name="upload")
    vs_file = stores.files.upload_and_poll(
        vector_store_id=store.id,
        file=("guide.md", b"# Guide\n\nTurn the key clockwise.", "text/markdown"),
        poll_interval_ms=POLL_MS,
    )
    assert strictly(vs_file) == vs_file
    assert vs_file.status == "completed" and vs_file.last_error is None and vs_file.usage_bytes > 0
    assert vs_file.vector_store_id == store.id and vs_file.object == "vector_store.file"
    assert stores.retrieve(store.id).file_counts.completed == 1


def test_files_create_and_poll_with_a_failing_file(sdk, stores):
    store = stores.create(name="failing")
    bad = _upload(sdk, "program.exe", b"MZ\x00\x01")
    vs_file = stores.files.create_and_poll(bad.id, vector_store_id=store.id, poll_interval_ms=POLL_MS)
    assert vs_file.status == "failed"
    assert vs_file.last_error is not None and vs_file.last_error.code == "unsupported_file"


def test_files_list_retrieve_and_delete(sdk, stores):
    store = stores.create(name="files")
    files = [_upload(sdk, f"{i}.txt", f"file number {i}".encode()) for i in range(3)]
    for file in files:
        stores.files.create_and_poll(file.id, vector_store_id=store.id, poll_interval_ms=POLL_MS)
    listed = stores.files.list(vector_store_id=store.id, order="asc")
    assert [f.id for f in listed] == [f.id for f in files]
    assert all(strictly(f) == f for f in listed.data)
    assert [f.id for f in stores.files.list(vector_store_id=store.id, filter="failed")] == []
    assert stores.files.retrieve(files[0].id, vector_store_id=store.id).status == "completed"

    deleted = stores.files.delete(files[0].id, vector_store_id=store.id)
    assert deleted.deleted is True and deleted.object == "vector_store.file.deleted"
    assert not FileRow.objects.filter(store_id=store.id, file_id=files[0].id).exists()
    assert sdk.files.retrieve(files[0].id).id == files[0].id


def test_file_batches_create_and_poll(sdk, stores):
    store = stores.create(name="batch")
    files = [_upload(sdk, f"{i}.txt", f"batch document {i}".encode()) for i in range(5)]
    batch = stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=[f.id for f in files], poll_interval_ms=POLL_MS
    )
    assert strictly(batch) == batch
    assert batch.id.startswith("vsfb_") and batch.object == "vector_store.files_batch"
    assert batch.status == "completed"
    assert batch.file_counts.completed == 5 and batch.file_counts.total == 5
    listed = stores.file_batches.list_files(batch.id, vector_store_id=store.id, limit=10)
    assert {f.id for f in listed} == {f.id for f in files}
    assert stores.file_batches.retrieve(batch.id, vector_store_id=store.id).status == "completed"


def test_file_batches_upload_and_poll(sdk, stores):
    store = stores.create(name="batch upload")
    existing = _upload(sdk, "existing.txt", b"already uploaded")
    batch = stores.file_batches.upload_and_poll(
        store.id,
        files=[("a.txt", b"first upload", "text/plain"), ("b.txt", b"second upload", "text/plain")],
        file_ids=[existing.id],
        poll_interval_ms=POLL_MS,
    )
    assert batch.status == "completed" and batch.file_counts.completed == 3


def test_file_batches_cancel(sdk, stores, owner):
    from tests.vector_stores.conftest import make_files

    store = stores.create(name="cancel")
    ids = make_files(owner.project, [(f"{i}.txt", f"{i} ".encode() * 2000) for i in range(100)])
    batch = stores.file_batches.create(vector_store_id=store.id, file_ids=ids)
    cancelled = stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    assert cancelled.status == "cancelled" and cancelled.file_counts.in_progress == 0


def test_it_rejects_bad_requests_with_openai_errors(sdk, stores):
    with pytest.raises(openai.BadRequestError) as raised:
        stores.create(expires_after={"anchor": "last_active_at", "days": 400})
    assert raised.value.param == "expires_after.days"  # type: ignore[attr-defined]
    store = stores.create()
    with pytest.raises(openai.BadRequestError):
        stores.files.create(vector_store_id=store.id, file_id="file-nope")
    with pytest.raises(openai.NotFoundError):
        stores.files.retrieve("file-nope", vector_store_id=store.id)


@pytest.mark.skipif(SDK_MAJOR < 2, reason="1.65.5 has no vector store search or file content")
def test_search_and_content(sdk, stores):
    store = stores.create(name="search")
    stores.files.upload_and_poll(
        vector_store_id=store.id,
        file=("policy.txt", b"Our return policy allows refunds within 30 days.", "text/plain"),
        attributes={"kind": "policy"},
        poll_interval_ms=POLL_MS,
    )
    stores.files.upload_and_poll(
        vector_store_id=store.id,
        file=("animals.txt", b"Capybaras are the largest rodents.", "text/plain"),
        attributes={"kind": "animals"},
        poll_interval_ms=POLL_MS,
    )
    page = stores.search(store.id, query="return policy refunds", max_num_results=5)
    results = list(page)
    assert results and results[0].filename == "policy.txt"
    assert all(strictly(r) == r for r in results)
    assert results[0].content[0].type == "text" and "refunds" in results[0].content[0].text
    filtered = list(
        stores.search(
            store.id, query="policy rodents", filters={"type": "eq", "key": "kind", "value": "animals"}
        )
    )
    assert {r.filename for r in filtered} == {"animals.txt"}

    policy = next(
        f for f in stores.files.list(vector_store_id=store.id) if f.attributes == {"kind": "policy"}
    )
    content = list(stores.files.content(policy.id, vector_store_id=store.id))
    assert "refunds within 30 days" in "".join(part.text or "" for part in content)

    updated = stores.files.update(policy.id, vector_store_id=store.id, attributes={"kind": "faq"})
    assert updated.attributes == {"kind": "faq"}
