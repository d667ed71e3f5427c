"""/v1/vector_stores and /v1/vector_stores/{id}: create, list, retrieve, modify, delete, expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from console.vector_stores import services
from console.vector_stores.models import VectorStore, VectorStoreFile
from tests.vector_stores.conftest import chunk_count, upload, wait_store


def test_it_creates_an_empty_store(api, owner):
    r = api.post("vector_stores", json={"name": "Support FAQ", "metadata": {"team": "support"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"].startswith("vs_") and len(body["id"]) >= 27
    assert body["object"] == "vector_store"
    assert body["name"] == "Support FAQ" and body["metadata"] == {"team": "support"}
    assert body["status"] == "completed" and body["usage_bytes"] == 0
    assert body["file_counts"] == {"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0, "total": 0}
    assert body["expires_at"] is None and "expires_after" not in body
    assert isinstance(body["created_at"], int) and body["last_active_at"] >= body["created_at"]
    stored = VectorStore.objects.get(pk=body["id"])
    assert stored.project_id == owner.project.pk and stored.name == "Support FAQ"


def test_it_accepts_an_empty_body(api):
    r = api.post("vector_stores")
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "" and r.json()["metadata"] == {}


def test_it_creates_a_store_with_files_and_ingests_them(vs_api):
    first = upload(vs_api, "a.txt", b"The quick brown fox jumps over the lazy dog.")
    second = upload(vs_api, "b.md", b"# Title\n\nSome markdown text about llamas.")
    r = vs_api.post(
        "vector_stores",
        json={
            "name": "docs",
            "file_ids": [first, second],
            "chunking_strategy": {
                "type": "static",
                "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50},
            },
            "expires_after": {"anchor": "last_active_at", "days": 3},
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["file_counts"]["total"] == 2
    assert body["expires_after"] == {"anchor": "last_active_at", "days": 3}
    assert body["expires_at"] == body["last_active_at"] + 3 * 86400

    done = wait_store(vs_api, body["id"])
    assert done["status"] == "completed"
    assert done["file_counts"] == {"in_progress": 0, "completed": 2, "failed": 0, "cancelled": 0, "total": 2}
    assert done["usage_bytes"] > 0
    files = vs_api.get(f"vector_stores/{body['id']}/files").json()["data"]
    assert {f["chunking_strategy"]["static"]["max_chunk_size_tokens"] for f in files} == {200}
    assert chunk_count(body["id"]) >= 2


def test_it_reports_in_progress_while_files_are_pending(api, owner):
    # No worker: the files stay pending.
    store = VectorStore.objects.create(project=owner.project, name="pending")
    from console.files.models import File

    file = File.objects.create(
        project=owner.project, filename="x.txt", purpose="assistants", bytes=1, storage_name="x"
    )
    VectorStoreFile.objects.create(store=store, file=file, chunking_strategy={}, attributes={})
    body = api.get(f"vector_stores/{store.id}").json()
    assert body["status"] == "in_progress"
    assert body["file_counts"]["in_progress"] == 1 and body["file_counts"]["total"] == 1


def test_it_lists_stores_newest_first_with_pagination(api):
    ids = [api.post("vector_stores", json={"name": f"s{i}"}).json()["id"] for i in range(3)]
    r = api.get("vector_stores")
    assert r.status_code == 200
    body = r.json()
    assert [s["id"] for s in body["data"]] == ids[::-1]
    assert body["first_id"] == ids[2] and body["last_id"] == ids[0] and body["has_more"] is False

    page = api.get("vector_stores", params={"limit": 2, "order": "asc"}).json()
    assert [s["id"] for s in page["data"]] == ids[:2] and page["has_more"] is True
    rest = api.get("vector_stores", params={"limit": 2, "order": "asc", "after": ids[1]}).json()
    assert [s["id"] for s in rest["data"]] == ids[2:] and rest["has_more"] is False
    before = api.get("vector_stores", params={"before": ids[0]}).json()
    assert [s["id"] for s in before["data"]] == ids[:0:-1]


def test_it_retrieves_a_store(api):
    created = api.post("vector_stores", json={"name": "one", "description": "the first"}).json()
    r = api.get(f"vector_stores/{created['id']}")
    assert r.status_code == 200
    assert r.json() == created


def test_it_modifies_a_store(api):
    created = api.post("vector_stores", json={"name": "old", "metadata": {"a": "1"}}).json()
    r = api.post(
        f"vector_stores/{created['id']}",
        json={
            "name": "new",
            "metadata": {"b": "2"},
            "expires_after": {"anchor": "last_active_at", "days": 7},
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "new" and body["metadata"] == {"b": "2"}
    assert body["expires_after"] == {"anchor": "last_active_at", "days": 7}
    assert body["expires_at"] == body["last_active_at"] + 7 * 86400
    stored = VectorStore.objects.get(pk=created["id"])
    assert stored.name == "new" and stored.expires_after == {"anchor": "last_active_at", "days": 7}

    cleared = api.post(f"vector_stores/{created['id']}", json={"expires_after": None}).json()
    assert "expires_after" not in cleared and cleared["expires_at"] is None
    assert cleared["name"] == "new" and cleared["metadata"] == {"b": "2"}


def test_it_deletes_a_store_and_its_chunks(vs_api):
    file_id = upload(vs_api, "doc.txt", b"alpha beta gamma")
    store = vs_api.post("vector_stores", json={"file_ids": [file_id]}).json()
    wait_store(vs_api, store["id"])
    assert chunk_count(store["id"]) > 0

    r = vs_api.delete(f"vector_stores/{store['id']}")
    assert r.status_code == 200
    assert r.json() == {"id": store["id"], "object": "vector_store.deleted", "deleted": True}
    assert not VectorStore.objects.filter(pk=store["id"]).exists()
    assert not VectorStoreFile.objects.filter(store_id=store["id"]).exists()
    assert chunk_count(store["id"]) == 0
    # The File itself stays.
    assert vs_api.get(f"files/{file_id}").status_code == 200
    assert vs_api.get(f"vector_stores/{store['id']}").status_code == 404


def test_it_hides_other_projects_stores(api, outsider_api):
    theirs = outsider_api.post("vector_stores", json={"name": "private"}).json()["id"]
    for method, path in [
        ("GET", f"vector_stores/{theirs}"),
        ("POST", f"vector_stores/{theirs}"),
        ("DELETE", f"vector_stores/{theirs}"),
        ("GET", f"vector_stores/{theirs}/files"),
        ("POST", f"vector_stores/{theirs}/search"),
    ]:
        r = api.request(method, path, json={"query": "x"} if path.endswith("search") else {})
        assert r.status_code == 404, (method, path)
        assert r.json()["error"]["message"] == f"No vector store found with id '{theirs}'."
    assert [s["id"] for s in api.get("vector_stores").json()["data"]] == []
    assert VectorStore.objects.filter(pk=theirs).exists()


def test_it_rejects_another_projects_file(api, outsider_api):
    theirs = upload(outsider_api)
    r = api.post("vector_stores", json={"file_ids": [theirs]})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "file_ids"
    assert theirs in r.json()["error"]["message"]
    assert not VectorStore.objects.exists()


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({"name": 5}, "name", "expected a string"),
        ({"unknown": 1}, "unknown", "Unrecognized request argument supplied: unknown"),
        ({"file_ids": "file-x"}, "file_ids", "expected an array"),
        ({"expires_after": {"anchor": "created_at", "days": 1}}, "expires_after.anchor", "'last_active_at'"),
        ({"expires_after": {"anchor": "last_active_at", "days": 0}}, "expires_after.days", ">= 1"),
        ({"expires_after": {"anchor": "last_active_at", "days": 366}}, "expires_after.days", "<= 365"),
        ({"expires_after": {"anchor": "last_active_at"}}, "expires_after.days", "Missing required parameter"),
        ({"chunking_strategy": {"type": "fixed"}}, "chunking_strategy.type", "'auto' and 'static'"),
        (
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0},
                }
            },
            "chunking_strategy.static.max_chunk_size_tokens",
            ">= 100",
        ),
        (
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 4097, "chunk_overlap_tokens": 0},
                }
            },
            "chunking_strategy.static.max_chunk_size_tokens",
            "<= 4096",
        ),
        (
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": 201},
                }
            },
            "chunking_strategy.static.chunk_overlap_tokens",
            "half of max_chunk_size_tokens",
        ),
        ({"chunking_strategy": {"type": "static"}}, "chunking_strategy.static", "Missing required parameter"),
        ({"metadata": {str(i): "v" for i in range(17)}}, "metadata", "at most 16"),
        ({"file_ids": [f"file-{i}" for i in range(501)]}, "file_ids", "maximum length 500"),
    ],
)
def test_it_validates_the_create_body(api, body, param, fragment):
    r = api.post("vector_stores", json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert fragment in error["message"]
    assert not VectorStore.objects.exists()


def test_it_validates_the_modify_body(api):
    store = api.post("vector_stores").json()["id"]
    r = api.post(f"vector_stores/{store}", json={"file_ids": []})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "Unrecognized request argument supplied: file_ids"
    r = api.post(f"vector_stores/{store}", json={"expires_after": {"anchor": "last_active_at", "days": "2"}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "expires_after.days"


def test_it_expires_a_store_after_its_last_activity(vs_api):
    file_id = upload(vs_api, "doc.txt", b"some text to index")
    store = vs_api.post(
        "vector_stores",
        json={"file_ids": [file_id], "expires_after": {"anchor": "last_active_at", "days": 1}},
    ).json()
    wait_store(vs_api, store["id"])
    assert services.expire_stores() == 0
    past = timezone.now() - timedelta(seconds=1)
    VectorStore.objects.filter(pk=store["id"]).update(expires_at=past)
    # Reported expired at once, before the periodic task has seen it.
    assert vs_api.get(f"vector_stores/{store['id']}").json()["status"] == "expired"

    assert services.expire_stores() == 1
    assert VectorStore.objects.get(pk=store["id"]).status == "expired"
    assert chunk_count(store["id"]) == 0

    expired = f"Vector store {store['id']} is expired. Create a new vector store and try again."
    other = upload(vs_api, "other.txt", b"more")
    for path, body in [
        (f"vector_stores/{store['id']}/files", {"file_id": other}),
        (f"vector_stores/{store['id']}/file_batches", {"file_ids": [other]}),
        (f"vector_stores/{store['id']}/search", {"query": "text"}),
    ]:
        r = vs_api.post(path, json=body)
        assert r.status_code == 400, path
        assert r.json()["error"]["message"] == expired
    r = vs_api.post(
        "assistants",
        json={"model": "gpt-4o", "tool_resources": {"file_search": {"vector_store_ids": [store["id"]]}}},
    )
    assert r.status_code == 400
    assert r.json()["error"]["message"] == expired
    assert r.json()["error"]["param"] == "tool_resources.file_search.vector_store_ids"
    # It can still be read, renamed and deleted.
    assert vs_api.post(f"vector_stores/{store['id']}", json={"name": "old"}).json()["status"] == "expired"
    assert vs_api.delete(f"vector_stores/{store['id']}").status_code == 200


def test_the_expiry_sweep_is_not_a_task_a_hung_worker_could_block():
    from django.conf import settings

    # Beat runs it in a thread of its own (console/celery.py, console/core/sweeps.py).
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "console.vector_stores.tasks.expire_stores_and_requeue_ingestion" not in tasks
    assert settings.INGEST_SWEEP_INTERVAL == 60


def test_activity_pushes_expiry_back(api, owner):
    store = api.post("vector_stores", json={"expires_after": {"anchor": "last_active_at", "days": 2}}).json()
    earlier = timezone.now() - timedelta(days=1)
    VectorStore.objects.filter(pk=store["id"]).update(
        last_active_at=earlier, expires_at=earlier + timedelta(days=2)
    )
    services.touch([store["id"]])
    row = VectorStore.objects.get(pk=store["id"])
    assert row.last_active_at > earlier + timedelta(hours=23)
    assert row.expires_at == row.last_active_at + timedelta(days=2)
