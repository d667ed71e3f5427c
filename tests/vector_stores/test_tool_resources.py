"""tool_resources.file_search on assistants and threads, and message attachments for file_search."""

from __future__ import annotations

from console.assistants.models import Assistant
from console.threads.models import Thread
from console.vector_stores.models import VectorStore, VectorStoreFile
from tests.vector_stores.conftest import upload, wait_store

STATIC = {"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 100}}


def test_assistants_and_threads_accept_the_projects_stores(api):
    store = api.post("vector_stores").json()["id"]
    resources = {"file_search": {"vector_store_ids": [store]}}
    assistant = api.post("assistants", json={"model": "gpt-4o", "tool_resources": resources})
    assert assistant.status_code == 200, assistant.text
    assert assistant.json()["tool_resources"] == resources
    thread = api.post("threads", json={"tool_resources": resources})
    assert thread.status_code == 200 and thread.json()["tool_resources"] == resources
    modified = api.post(f"threads/{thread.json()['id']}", json={"tool_resources": resources})
    assert modified.status_code == 200 and modified.json()["tool_resources"] == resources


def test_unknown_or_foreign_stores_are_refused(api, outsider_api):
    theirs = outsider_api.post("vector_stores").json()["id"]
    assistant = api.post("assistants", json={"model": "gpt-4o"}).json()["id"]
    thread = api.post("threads").json()["id"]
    for store in ["vs_missing", theirs]:
        resources = {"file_search": {"vector_store_ids": [store]}}
        for path, body in [
            ("assistants", {"model": "gpt-4o", "tool_resources": resources}),
            (f"assistants/{assistant}", {"tool_resources": resources}),
            ("threads", {"tool_resources": resources}),
            (f"threads/{thread}", {"tool_resources": resources}),
            ("threads/runs", {"assistant_id": assistant, "thread": {"tool_resources": resources}}),
        ]:
            r = api.post(path, json=body)
            assert r.status_code == 400, (path, r.text)
            assert r.json()["error"]["param"] == "tool_resources.file_search.vector_store_ids"
            assert r.json()["error"]["message"] == (
                f"Invalid 'tool_resources.file_search.vector_store_ids': no vector store found with id '{store}'."
            )
    assert Assistant.objects.get(pk=assistant).tool_resources == {}
    assert Thread.objects.count() == 1


def test_a_thread_creates_its_store_inline(vs_api):
    file_id = upload(vs_api, "manual.txt", b"Press the red button to start the machine.")
    r = vs_api.post(
        "threads",
        json={
            "tool_resources": {
                "file_search": {
                    "vector_stores": [
                        {"file_ids": [file_id], "chunking_strategy": STATIC, "metadata": {"k": "v"}}
                    ]
                }
            }
        },
    )
    assert r.status_code == 200, r.text
    ids = r.json()["tool_resources"]["file_search"]["vector_store_ids"]
    assert r.json()["tool_resources"]["file_search"] == {"vector_store_ids": ids} and len(ids) == 1
    store = wait_store(vs_api, ids[0])
    assert store["metadata"] == {"k": "v"} and store["file_counts"]["completed"] == 1
    # Stores made for threads expire a week after their last use, as OpenAI's did.
    assert store["expires_after"] == {"anchor": "last_active_at", "days": 7}
    row = VectorStoreFile.objects.get(store_id=ids[0])
    assert row.file_id == file_id and row.chunking_strategy == STATIC


def test_an_assistant_creates_its_store_inline(vs_api):
    file_id = upload(vs_api)
    r = vs_api.post(
        "assistants",
        json={
            "model": "gpt-4o",
            "tool_resources": {"file_search": {"vector_stores": [{"file_ids": [file_id]}]}},
        },
    )
    assert r.status_code == 200, r.text
    (store_id,) = r.json()["tool_resources"]["file_search"]["vector_store_ids"]
    store = wait_store(vs_api, store_id)
    assert "expires_after" not in store and store["file_counts"]["completed"] == 1


def test_inline_stores_are_checked_before_anything_is_created(api):
    r = api.post(
        "threads",
        json={"tool_resources": {"file_search": {"vector_stores": [{"file_ids": ["file-nope"]}]}}},
    )
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "tool_resources.file_search.vector_stores[0].file_ids"
    both = api.post(
        "threads",
        json={
            "tool_resources": {
                "file_search": {
                    "vector_store_ids": [api.post("vector_stores").json()["id"]],
                    "vector_stores": [{}],
                }
            }
        },
    )
    assert both.status_code == 400 and both.json()["error"]["param"] == "tool_resources.file_search"
    r = api.post("threads", json={"tool_resources": {"file_search": {"vector_stores": [{}, {}]}}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "tool_resources.file_search.vector_stores"
    assert Thread.objects.count() == 0 and VectorStore.objects.count() == 1


def test_modify_requests_do_not_take_the_helper(api):
    thread = api.post("threads").json()["id"]
    assistant = api.post("assistants", json={"model": "gpt-4o"}).json()["id"]
    for path in [f"threads/{thread}", f"assistants/{assistant}"]:
        r = api.post(path, json={"tool_resources": {"file_search": {"vector_stores": [{"file_ids": []}]}}})
        assert r.status_code == 400
        assert r.json()["error"]["message"] == (
            "Unrecognized request argument supplied: tool_resources.file_search.vector_stores"
        )


def test_a_file_search_attachment_creates_the_threads_store(vs_api):
    thread = vs_api.post("threads").json()["id"]
    first = upload(vs_api, "a.txt", b"first attachment")
    r = vs_api.post(
        f"threads/{thread}/messages",
        json={
            "role": "user",
            "content": "see file",
            "attachments": [{"file_id": first, "tools": [{"type": "file_search"}]}],
        },
    )
    assert r.status_code == 200, r.text
    resources = vs_api.get(f"threads/{thread}").json()["tool_resources"]
    (store_id,) = resources["file_search"]["vector_store_ids"]
    assert wait_store(vs_api, store_id)["file_counts"]["completed"] == 1

    # A second attachment joins the same store; a code_interpreter-only one does not.
    second, third = upload(vs_api, "b.txt", b"second attachment"), upload(vs_api, "c.csv", b"a,b")
    vs_api.post(
        f"threads/{thread}/messages",
        json={
            "role": "user",
            "content": "more",
            "attachments": [
                {"file_id": second, "tools": [{"type": "file_search"}, {"type": "code_interpreter"}]},
                {"file_id": third, "tools": [{"type": "code_interpreter"}]},
            ],
        },
    )
    assert vs_api.get(f"threads/{thread}").json()["tool_resources"]["file_search"]["vector_store_ids"] == [
        store_id
    ]
    assert set(VectorStoreFile.objects.filter(store_id=store_id).values_list("file_id", flat=True)) == {
        first,
        second,
    }


def test_attachments_in_a_new_thread_go_into_its_store(vs_api):
    file_id = upload(vs_api)
    existing = vs_api.post("vector_stores").json()["id"]
    r = vs_api.post(
        "threads",
        json={
            "tool_resources": {"file_search": {"vector_store_ids": [existing]}},
            "messages": [
                {
                    "role": "user",
                    "content": "hi",
                    "attachments": [{"file_id": file_id, "tools": [{"type": "file_search"}]}],
                }
            ],
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["tool_resources"]["file_search"]["vector_store_ids"] == [existing]
    assert VectorStoreFile.objects.filter(store_id=existing, file_id=file_id).exists()
