"""The ingestion task's claim and finish, driven directly (no queue) to pin down the races it guards."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from console.vector_stores import ingest
from console.vector_stores.models import AUTO_CHUNKING, VectorStore, VectorStoreFile
from console.vector_stores.services import join_windows
from tests.vector_stores.conftest import chunk_count, make_files, upload, wait_file
from tests.waiting import wait_until


def _row(owner, name="doc.txt", content=b"plain words to index", **fields):
    store = VectorStore.objects.create(project=owner.project)
    (file_id,) = make_files(owner.project, [(name, content)])
    return VectorStoreFile.objects.create(
        store=store, file_id=file_id, chunking_strategy=AUTO_CHUNKING, attributes={"a": 1}, **fields
    )


def test_it_ingests_a_pending_file(owner):
    row = _row(owner)
    ingest.ingest(row.store_id, row.file_id)
    row.refresh_from_db()
    assert row.status == "completed" and row.usage_bytes == len(b"plain words to index")
    assert chunk_count(row.store_id, row.file_id) == 1


def test_it_leaves_a_cancelled_file_alone(owner):
    row = _row(owner, status="cancelled")
    ingest.ingest(row.store_id, row.file_id)
    row.refresh_from_db()
    assert row.status == "cancelled" and chunk_count(row.store_id) == 0


def test_it_does_not_take_a_file_another_worker_holds(owner):
    row = _row(owner, claimed_at=timezone.now(), alive_at=timezone.now())
    ingest.ingest(row.store_id, row.file_id)
    row.refresh_from_db()
    assert row.status == "in_progress" and chunk_count(row.store_id) == 0


def test_it_does_not_take_a_long_ingestion_whose_worker_is_alive(owner, settings):
    long_ago = timezone.now() - timedelta(hours=1)
    row = _row(owner, claimed_at=long_ago, alive_at=timezone.now())
    ingest.ingest(row.store_id, row.file_id)
    assert ingest.requeue_stale() == 0
    row.refresh_from_db()
    assert row.status == "in_progress" and row.claimed_at == long_ago


def test_it_takes_over_a_claim_whose_worker_stopped_beating(owner, settings):
    stale = timezone.now() - timedelta(seconds=settings.INGEST_CLAIM_TIMEOUT + 1)
    row = _row(owner, claimed_at=stale, alive_at=stale)
    ingest.ingest(row.store_id, row.file_id)
    row.refresh_from_db()
    assert row.status == "completed"


def test_a_worker_refreshes_its_claim_while_it_ingests(owner, settings):
    settings.INGEST_HEARTBEAT_SECONDS = 0.01
    row = _row(owner)
    claim = ingest._claim(row.store_id, row.file_id)
    assert claim is not None
    with ingest._kept_alive(row.store_id, row.file_id, claim):
        wait_until(lambda: VectorStoreFile.objects.get(pk=row.pk).alive_at > claim)
    row.refresh_from_db()
    assert row.claimed_at == claim  # the claim itself (what finishing compares) never moves


def test_a_missing_upload_is_a_server_error(owner):
    from console.files import storage

    row = _row(owner)
    storage.delete(row.file.storage_name)
    ingest.ingest(row.store_id, row.file_id)
    row.refresh_from_db()
    assert row.status == "failed" and row.last_error["code"] == "server_error"


def test_a_file_removed_while_finishing_keeps_no_chunks(owner):
    from console.retrieval.chunking import TextChunk
    from console.retrieval.index import index_file

    row = _row(owner)
    claim = ingest._claim(row.store_id, row.file_id)
    assert claim is not None
    index_file(row.store_id, row.file_id, "doc.txt", [TextChunk("late", 1)], {}, None)
    VectorStoreFile.objects.filter(pk=row.pk).delete()
    assert ingest._finish(row, claim, "completed", usage_bytes=4) is False
    assert chunk_count(row.store_id) == 0


def test_lost_tasks_are_requeued(vs_api, owner):
    row = _row(owner)
    VectorStoreFile.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert ingest.requeue_stale() == 1
    assert wait_file(vs_api, row.store_id, row.file_id)["status"] == "completed"


def test_the_content_endpoint_rebuilds_the_text_from_overlapping_chunks(vs_api):
    store = vs_api.post("vector_stores").json()["id"]
    text = " ".join(f"word{i}" for i in range(3000))
    file_id = upload(vs_api, "long.txt", text.encode())
    strategy = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50}}
    vs_api.post(f"vector_stores/{store}/files", json={"file_id": file_id, "chunking_strategy": strategy})
    wait_file(vs_api, store, file_id)
    assert chunk_count(store, file_id) > 10
    body = vs_api.get(f"vector_stores/{store}/files/{file_id}/content").json()
    assert "".join(part["text"] for part in body["data"]) == text


def test_join_windows():
    assert join_windows([]) == ""
    assert join_windows(["abcdef", "defghi", "ghijk"]) == "abcdefghijk"
    assert join_windows(["abc", "xyz"]) == "abcxyz"
    assert join_windows(["abc", "cde"], overlapping=False) == "abccde"
    long = " ".join(f"w{i}" for i in range(100))
    assert join_windows([long[:120], long[80:200], long[160:]]) == long
    # Overlaps shorter than the probe are found too.
    assert join_windows([long[:120], long[110:250], long[245:]]) == long
