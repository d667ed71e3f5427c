"""/v1/vector_stores/{id}/files: attach, ingest, list, retrieve, attributes, content, delete."""

from __future__ import annotations

import pytest

from console.vector_stores.models import VectorStoreFile
from tests.vector_stores.conftest import CORRUPT_PDF, chunk_count, upload, wait_file, wait_store

AUTO = {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}


def _store(api, **body):
    r = api.post("vector_stores", json=body)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_it_attaches_a_file_and_ingests_it(vs_api):
    store = _store(vs_api)
    file_id = upload(vs_api, "guide.txt", b"Llamas are domesticated South American camelids. " * 20)
    r = vs_api.post(
        f"vector_stores/{store}/files", json={"file_id": file_id, "attributes": {"lang": "en", "year": 2024}}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == file_id and body["object"] == "vector_store.file"
    assert body["vector_store_id"] == store
    assert body["status"] in ("in_progress", "completed")
    assert body["last_error"] is None
    assert body["chunking_strategy"] == AUTO
    assert body["attributes"] == {"lang": "en", "year": 2024}

    done = wait_file(vs_api, store, file_id)
    assert done["status"] == "completed" and done["last_error"] is None
    assert 0 < done["usage_bytes"] <= len(b"Llamas are domesticated South American camelids. " * 20)
    assert chunk_count(store, file_id) >= 1
    row = VectorStoreFile.objects.get(store_id=store, file_id=file_id)
    assert row.status == "completed" and row.usage_bytes == done["usage_bytes"]
    summary = vs_api.get(f"vector_stores/{store}").json()
    assert summary["usage_bytes"] == done["usage_bytes"]
    assert summary["file_counts"]["completed"] == 1 and summary["status"] == "completed"


def test_it_uses_a_static_chunking_strategy(vs_api):
    store = _store(vs_api)
    words = " ".join(f"word{i}" for i in range(3000))
    small, large = upload(vs_api, "small.txt", words.encode()), upload(vs_api, "large.txt", words.encode())
    strategy = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50}}
    r = vs_api.post(f"vector_stores/{store}/files", json={"file_id": small, "chunking_strategy": strategy})
    assert r.json()["chunking_strategy"] == strategy
    vs_api.post(
        f"vector_stores/{store}/files", json={"file_id": large, "chunking_strategy": {"type": "auto"}}
    )
    wait_store(vs_api, store)
    assert chunk_count(store, small) > chunk_count(store, large) > 0


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("program.exe", b"MZ\x90\x00binary", "unsupported_file"),
        ("broken.pdf", CORRUPT_PDF, "invalid_file"),
        ("blank.txt", b"   \n\t\n", "invalid_file"),
    ],
)
def test_a_bad_file_fails_with_last_error(vs_api, name, content, code):
    store = _store(vs_api)
    bad = upload(vs_api, name, content)
    good = upload(vs_api, "fine.txt", b"perfectly ordinary text")
    vs_api.post(f"vector_stores/{store}/files", json={"file_id": bad})
    vs_api.post(f"vector_stores/{store}/files", json={"file_id": good})
    failed = wait_file(vs_api, store, bad)
    assert failed["status"] == "failed"
    assert failed["last_error"]["code"] == code and failed["last_error"]["message"]
    assert chunk_count(store, bad) == 0
    assert wait_file(vs_api, store, good)["status"] == "completed"
    summary = wait_store(vs_api, store)
    assert summary["file_counts"] == {
        "in_progress": 0,
        "completed": 1,
        "failed": 1,
        "cancelled": 0,
        "total": 2,
    }
    assert summary["status"] == "completed"


def test_re_adding_a_file_is_idempotent(vs_api):
    store = _store(vs_api)
    file_id = upload(vs_api, "a.txt", b"repeat after me")
    first = vs_api.post(f"vector_stores/{store}/files", json={"file_id": file_id}).json()
    wait_file(vs_api, store, file_id)
    again = vs_api.post(f"vector_stores/{store}/files", json={"file_id": file_id})
    assert again.status_code == 200
    assert again.json()["status"] == "completed" and again.json()["created_at"] == first["created_at"]
    assert VectorStoreFile.objects.filter(store_id=store, file_id=file_id).count() == 1
    assert vs_api.get(f"vector_stores/{store}").json()["file_counts"]["total"] == 1


def test_re_adding_a_failed_file_ingests_it_again(vs_api):
    store = _store(vs_api)
    file_id = upload(vs_api, "broken.pdf", CORRUPT_PDF)
    vs_api.post(f"vector_stores/{store}/files", json={"file_id": file_id})
    assert wait_file(vs_api, store, file_id)["status"] == "failed"
    vs_api.post(f"vector_stores/{store}/files", json={"file_id": file_id})
    again = wait_file(vs_api, store, file_id)
    assert again["status"] == "failed" and again["last_error"]["code"] == "invalid_file"


def test_it_lists_files_with_a_status_filter_and_pagination(vs_api):
    store = _store(vs_api)
    good = [upload(vs_api, f"{i}.txt", f"text number {i}".encode()) for i in range(3)]
    bad = upload(vs_api, "x.exe", b"MZ")
    for file_id in [*good, bad]:
        vs_api.post(f"vector_stores/{store}/files", json={"file_id": file_id})
    wait_store(vs_api, store)

    listed = vs_api.get(f"vector_stores/{store}/files").json()
    assert [f["id"] for f in listed["data"]] == [bad, *good[::-1]]
    assert listed["first_id"] == bad and listed["last_id"] == good[0] and listed["has_more"] is False

    completed = vs_api.get(
        f"vector_stores/{store}/files", params={"filter": "completed", "order": "asc"}
    ).json()
    assert [f["id"] for f in completed["data"]] == good
    failed = vs_api.get(f"vector_stores/{store}/files", params={"filter": "failed"}).json()
    assert [f["id"] for f in failed["data"]] == [bad]

    page = vs_api.get(f"vector_stores/{store}/files", params={"limit": 2, "order": "asc"}).json()
    assert [f["id"] for f in page["data"]] == good[:2] and page["has_more"] is True
    rest = vs_api.get(
        f"vector_stores/{store}/files", params={"limit": 2, "order": "asc", "after": good[1]}
    ).json()
    assert [f["id"] for f in rest["data"]] == [good[2], bad] and rest["has_more"] is False
    back = vs_api.get(
        f"vector_stores/{store}/files", params={"limit": 2, "order": "asc", "before": bad}
    ).json()
    assert [f["id"] for f in back["data"]] == good[1:]

    r = vs_api.get(f"vector_stores/{store}/files", params={"filter": "done"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "filter"
    r = vs_api.get(f"vector_stores/{store}/files", params={"after": "file-nope"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "after"


def test_it_updates_attributes_in_the_index(vs_api):
    from console.retrieval.models import Chunk

    store = _store(vs_api)
    file_id = upload(vs_api, "a.txt", b"attributes travel with chunks")
    vs_api.post(f"vector_stores/{store}/files", json={"file_id": file_id, "attributes": {"v": 1}})
    wait_file(vs_api, store, file_id)
    r = vs_api.post(f"vector_stores/{store}/files/{file_id}", json={"attributes": {"v": 2, "draft": False}})
    assert r.status_code == 200, r.text
    assert r.json()["attributes"] == {"v": 2, "draft": False}
    assert VectorStoreFile.objects.get(store_id=store, file_id=file_id).attributes == {"v": 2, "draft": False}
    assert {tuple(sorted(c.attributes.items())) for c in Chunk.objects.filter(vector_store_id=store)} == {
        (("draft", False), ("v", 2))
    }
    assert (
        vs_api.post(f"vector_stores/{store}/files/{file_id}", json={"attributes": None}).json()["attributes"]
        == {}
    )


@pytest.mark.parametrize(
    ("attributes", "param", "fragment"),
    [
        ({str(i): i for i in range(17)}, "attributes", "at most 16"),
        ({"k" * 65: "v"}, "attributes", "maximum length 64"),
        ({"k": "v" * 513}, "attributes", "maximum length 512"),
        ({"k": [1]}, "attributes.k", "expected one of"),
        ({"k": {"nested": 1}}, "attributes.k", "expected one of"),
    ],
)
def test_it_validates_attributes(vs_api, attributes, param, fragment):
    store = _store(vs_api)
    file_id = upload(vs_api)
    r = vs_api.post(f"vector_stores/{store}/files", json={"file_id": file_id, "attributes": attributes})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param and fragment in r.json()["error"]["message"]
    assert not VectorStoreFile.objects.exists()


def test_it_validates_the_file_body(vs_api):
    store = _store(vs_api)
    r = vs_api.post(f"vector_stores/{store}/files", json={})
    assert r.status_code == 400 and r.json()["error"]["message"] == "Missing required parameter: 'file_id'."
    r = vs_api.post(f"vector_stores/{store}/files", json={"file_id": "file-missing"})
    assert r.status_code == 400
    assert r.json()["error"] == {
        "message": "Invalid 'file_id': no file found with id 'file-missing'.",
        "type": "invalid_request_error",
        "param": "file_id",
        "code": None,
    }
    r = vs_api.post(f"vector_stores/{store}/files/file-x", json={})
    assert (
        r.status_code == 400 and r.json()["error"]["message"] == "Missing required parameter: 'attributes'."
    )


def test_it_returns_the_parsed_content(vs_api):
    store = _store(vs_api)
    file_id = upload(vs_api, "page.html", b"<html><body><h1>Hello</h1><p>parsed text</p></body></html>")
    vs_api.post(f"vector_stores/{store}/files", json={"file_id": file_id})
    wait_file(vs_api, store, file_id)
    r = vs_api.get(f"vector_stores/{store}/files/{file_id}/content")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "vector_store.file_content.page"
    assert body["has_more"] is False and body["next_page"] is None
    text = "".join(part["text"] for part in body["data"])
    assert "Hello" in text and "parsed text" in text and "<p>" not in text


def test_deleting_a_vector_store_file_removes_its_chunks_but_not_the_file(vs_api):
    store = _store(vs_api)
    file_id = upload(vs_api, "a.txt", b"delete me from the store")
    vs_api.post(f"vector_stores/{store}/files", json={"file_id": file_id})
    wait_file(vs_api, store, file_id)
    assert chunk_count(store, file_id) > 0
    r = vs_api.delete(f"vector_stores/{store}/files/{file_id}")
    assert r.status_code == 200
    assert r.json() == {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}
    assert chunk_count(store, file_id) == 0
    assert not VectorStoreFile.objects.filter(store_id=store).exists()
    assert vs_api.get(f"files/{file_id}").status_code == 200
    r = vs_api.get(f"vector_stores/{store}/files/{file_id}")
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"No file found with id '{file_id}' in vector store '{store}'."


def test_deleting_a_file_removes_it_from_every_store(vs_api):
    stores = [_store(vs_api), _store(vs_api)]
    file_id = upload(vs_api, "shared.txt", b"one file, two stores")
    for store in stores:
        vs_api.post(f"vector_stores/{store}/files", json={"file_id": file_id})
        wait_file(vs_api, store, file_id)
        assert chunk_count(store, file_id) > 0
    assert vs_api.delete(f"files/{file_id}").status_code == 200
    for store in stores:
        assert chunk_count(store, file_id) == 0
        assert vs_api.get(f"vector_stores/{store}").json()["file_counts"]["total"] == 0
    assert not VectorStoreFile.objects.exists()


def test_another_projects_store_files_are_invisible(vs_api, outsider_api):
    store = _store(vs_api)
    file_id = upload(vs_api)
    vs_api.post(f"vector_stores/{store}/files", json={"file_id": file_id})
    for method, path in [
        ("GET", f"vector_stores/{store}/files/{file_id}"),
        ("POST", f"vector_stores/{store}/files/{file_id}"),
        ("DELETE", f"vector_stores/{store}/files/{file_id}"),
        ("GET", f"vector_stores/{store}/files/{file_id}/content"),
    ]:
        r = outsider_api.request(method, path, json={"attributes": {}} if method == "POST" else None)
        assert r.status_code == 404, (method, path)
    # Nor can an outsider attach the owner's file to its own store.
    theirs = _store(outsider_api)
    r = outsider_api.post(f"vector_stores/{theirs}/files", json={"file_id": file_id})
    assert r.status_code == 400 and r.json()["error"]["param"] == "file_id"
