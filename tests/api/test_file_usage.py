"""GET /v1/files/{id}/usage (an extension): the assistants and vector stores that use a file."""

from __future__ import annotations

from console.vector_stores.models import VectorStoreFile


def _upload(api, name: str = "notes.txt") -> str:  # type: ignore[no-untyped-def]
    r = api.post("files", files={"file": (name, b"some text")}, data={"purpose": "assistants"})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def test_it_is_empty_for_an_unused_file(api):
    file_id = _upload(api)
    r = api.get(f"files/{file_id}/usage")
    assert r.status_code == 200, r.text
    assert r.json() == {"object": "file.usage", "id": file_id, "assistants": [], "vector_stores": []}


def test_it_finds_stores_and_assistants_through_both_tools(api, worker):
    file_id, other = _upload(api), _upload(api, "other.txt")
    holding = api.post("vector_stores", json={"name": "holds it", "file_ids": [file_id]}).json()["id"]
    second = api.post("vector_stores", json={"name": "also"}).json()["id"]
    assert api.post(f"vector_stores/{second}/files", json={"file_id": file_id}).status_code == 200
    unrelated = api.post("vector_stores", json={"name": "other", "file_ids": [other]}).json()["id"]
    by_code = api.post(
        "assistants",
        json={
            "model": "gpt-4o",
            "tools": [{"type": "code_interpreter"}],
            "tool_resources": {"code_interpreter": {"file_ids": [other, file_id]}},
        },
    ).json()["id"]
    by_search = api.post(
        "assistants",
        json={
            "model": "gpt-4o",
            "tools": [{"type": "file_search"}],
            "tool_resources": {"file_search": {"vector_store_ids": [holding]}},
        },
    ).json()["id"]
    api.post(
        "assistants",
        json={
            "model": "gpt-4o",
            "tools": [{"type": "file_search"}],
            "tool_resources": {"file_search": {"vector_store_ids": [unrelated]}},
        },
    )
    api.post("assistants", json={"model": "gpt-4o"})

    body = api.get(f"files/{file_id}/usage").json()
    assert body["vector_stores"] == [holding, second]
    assert body["assistants"] == [by_code, by_search]
    assert set(VectorStoreFile.objects.filter(file_id=file_id).values_list("store_id", flat=True)) == {
        holding,
        second,
    }

    assert api.delete(f"vector_stores/{second}/files/{file_id}").status_code == 200
    assert api.get(f"files/{file_id}/usage").json()["vector_stores"] == [holding]


def test_it_answers_404_for_unknown_and_foreign_files(api, outsider_api):
    r = api.get("files/file-nope/usage")
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "No file found with id 'file-nope'."
    theirs = _upload(outsider_api)
    assert api.get(f"files/{theirs}/usage").status_code == 404
    assert outsider_api.get(f"files/{theirs}/usage").status_code == 200


def test_it_only_answers_get(api):
    file_id = _upload(api)
    assert api.post(f"files/{file_id}/usage", json={}).status_code == 405
