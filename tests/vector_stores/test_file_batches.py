"""/v1/vector_stores/{id}/file_batches: create, retrieve, cancel, list files."""

from __future__ import annotations

import pytest

from console import celery_app
from console.vector_stores.models import FileBatch, VectorStoreFile
from tests.vector_stores.conftest import CORRUPT_PDF, chunk_count, make_files, upload, wait_batch, wait_for


def _no_ingestion_running() -> bool:
    """True once the worker answers that it runs no ingest_file task (a task that started before a cancel
    may still be indexing; it drops what it indexed when it ends)."""
    active = celery_app.control.inspect(timeout=1).active()
    assert active is not None, "the worker did not answer"
    return not any(task["name"].endswith(".ingest_file") for tasks in active.values() for task in tasks)


def _store(api):
    return api.post("vector_stores").json()["id"]


def test_it_creates_a_batch_and_aggregates_its_counts(vs_api):
    store = _store(vs_api)
    good = [upload(vs_api, f"{i}.txt", f"document {i} about rivers".encode()) for i in range(4)]
    bad = upload(vs_api, "broken.pdf", CORRUPT_PDF)
    r = vs_api.post(
        f"vector_stores/{store}/file_batches",
        json={"file_ids": [*good, bad], "attributes": {"source": "wiki"}},
    )
    assert r.status_code == 200, r.text
    batch = r.json()
    assert batch["id"].startswith("vsfb_") and batch["object"] == "vector_store.files_batch"
    assert batch["vector_store_id"] == store and batch["file_counts"]["total"] == 5
    assert batch["status"] in ("in_progress", "completed")

    done = wait_batch(vs_api, store, batch["id"])
    assert done["status"] == "completed"
    assert done["file_counts"] == {"in_progress": 0, "completed": 4, "failed": 1, "cancelled": 0, "total": 5}
    rows = VectorStoreFile.objects.filter(batch_id=batch["id"])
    assert {row.attributes["source"] for row in rows} == {"wiki"}
    summary = vs_api.get(f"vector_stores/{store}").json()
    assert summary["file_counts"]["total"] == 5 and summary["status"] == "completed"

    failed = vs_api.get(
        f"vector_stores/{store}/file_batches/{batch['id']}/files", params={"filter": "failed"}
    ).json()
    assert [f["id"] for f in failed["data"]] == [bad]
    assert failed["data"][0]["last_error"]["code"] == "invalid_file"
    listed = vs_api.get(
        f"vector_stores/{store}/file_batches/{batch['id']}/files", params={"order": "asc"}
    ).json()
    assert [f["id"] for f in listed["data"]] == [*good, bad]


def test_it_takes_per_file_attributes_and_chunking(vs_api):
    store = _store(vs_api)
    first, second = upload(vs_api, "a.txt", b"alpha"), upload(vs_api, "b.txt", b"beta")
    static = {"type": "static", "static": {"max_chunk_size_tokens": 300, "chunk_overlap_tokens": 100}}
    r = vs_api.post(
        f"vector_stores/{store}/file_batches",
        json={
            "files": [
                {"file_id": first, "attributes": {"category": "finance"}},
                {"file_id": second, "chunking_strategy": static},
            ]
        },
    )
    assert r.status_code == 200, r.text
    wait_batch(vs_api, store, r.json()["id"])
    one = vs_api.get(f"vector_stores/{store}/files/{first}").json()
    two = vs_api.get(f"vector_stores/{store}/files/{second}").json()
    assert one["attributes"] == {"category": "finance"}
    assert one["chunking_strategy"]["static"] == {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}
    assert two["attributes"] == {} and two["chunking_strategy"] == static


def test_cancelling_a_batch_stops_its_pending_files(vs_api, owner):
    store = _store(vs_api)
    paragraph = " ".join(f"token{i}" for i in range(400))
    file_ids = make_files(owner.project, [(f"f{i}.txt", f"{i} {paragraph}".encode()) for i in range(200)])
    batch = vs_api.post(f"vector_stores/{store}/file_batches", json={"file_ids": file_ids}).json()
    r = vs_api.post(f"vector_stores/{store}/file_batches/{batch['id']}/cancel")
    assert r.status_code == 200, r.text
    cancelled = r.json()
    assert cancelled["status"] == "cancelled", cancelled
    assert cancelled["file_counts"]["in_progress"] == 0
    assert cancelled["file_counts"]["cancelled"] > 0
    assert cancelled["file_counts"]["total"] == 200
    assert FileBatch.objects.get(pk=batch["id"]).status == "cancelled"

    # The tasks already queued find their files cancelled; any caught mid-work drop what they indexed.
    cancelled_ids = list(
        VectorStoreFile.objects.filter(batch_id=batch["id"], status="cancelled").values_list(
            "file_id", flat=True
        )
    )
    wait_for(
        lambda: _no_ingestion_running() and sum(chunk_count(store, f) for f in cancelled_ids) == 0, timeout=30
    )
    after = vs_api.get(f"vector_stores/{store}/file_batches/{batch['id']}").json()
    assert after["status"] == "cancelled"
    assert after["file_counts"]["cancelled"] == cancelled["file_counts"]["cancelled"]
    assert after["file_counts"]["completed"] + after["file_counts"]["cancelled"] == 200
    listed = vs_api.get(
        f"vector_stores/{store}/file_batches/{batch['id']}/files",
        params={"filter": "cancelled", "limit": 100},
    ).json()
    assert len(listed["data"]) == min(100, after["file_counts"]["cancelled"])
    assert vs_api.get(f"vector_stores/{store}").json()["status"] == "completed"

    # Cancelling again is harmless.
    again = vs_api.post(f"vector_stores/{store}/file_batches/{batch['id']}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


def test_a_completed_batch_cannot_be_cancelled(vs_api):
    store = _store(vs_api)
    batch = vs_api.post(f"vector_stores/{store}/file_batches", json={"file_ids": [upload(vs_api)]}).json()
    wait_batch(vs_api, store, batch["id"])
    r = vs_api.post(f"vector_stores/{store}/file_batches/{batch['id']}/cancel")
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        f"Cannot cancel vector store file batch {batch['id']} with status 'completed'."
    )


def test_a_batch_re_adds_files_idempotently(vs_api):
    store = _store(vs_api)
    file_id = upload(vs_api, "a.txt", b"already here")
    vs_api.post(f"vector_stores/{store}/files", json={"file_id": file_id})
    batch = vs_api.post(f"vector_stores/{store}/file_batches", json={"file_ids": [file_id, file_id]}).json()
    done = wait_batch(vs_api, store, batch["id"])
    assert done["file_counts"]["total"] == 1 and done["file_counts"]["completed"] == 1
    assert VectorStoreFile.objects.filter(store_id=store).count() == 1


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({}, "file_ids", "Missing required parameter: 'file_ids'."),
        ({"file_ids": []}, "file_ids", "array too short"),
        ({"files": []}, "files", "array too short"),
        ({"file_ids": ["file-a"], "files": [{"file_id": "file-a"}]}, "files", "mutually exclusive"),
        ({"files": [{"attributes": {}}]}, "files[0].file_id", "Missing required parameter"),
        ({"file_ids": ["file-nope"]}, "file_ids", "no file found with id 'file-nope'"),
        ({"file_ids": [f"file-{i}" for i in range(2001)]}, "file_ids", "maximum length 2000"),
    ],
)
def test_it_validates_the_batch_body(vs_api, body, param, fragment):
    store = _store(vs_api)
    r = vs_api.post(f"vector_stores/{store}/file_batches", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param and fragment in r.json()["error"]["message"]
    assert not FileBatch.objects.exists()


def test_batches_of_other_stores_and_projects_are_not_found(vs_api, outsider_api):
    store, other = _store(vs_api), _store(vs_api)
    batch = vs_api.post(f"vector_stores/{store}/file_batches", json={"file_ids": [upload(vs_api)]}).json()[
        "id"
    ]
    r = vs_api.get(f"vector_stores/{other}/file_batches/{batch}")
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"No vector store file batch found with id '{batch}'."
    for method, path in [
        ("GET", f"vector_stores/{store}/file_batches/{batch}"),
        ("POST", f"vector_stores/{store}/file_batches/{batch}/cancel"),
        ("GET", f"vector_stores/{store}/file_batches/{batch}/files"),
    ]:
        assert outsider_api.request(method, path).status_code == 404
