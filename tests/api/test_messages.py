from __future__ import annotations

import pytest

from console.threads.models import Message


@pytest.fixture
def thread_id(api) -> str:
    r = api.post("threads")
    assert r.status_code == 200, r.text
    return r.json()["id"]


def _upload(api, name: str = "cat.png", content: bytes = b"\x89PNG fake", purpose: str = "vision") -> str:
    r = api.post("files", files={"file": (name, content)}, data={"purpose": purpose})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_it_creates_a_message_from_a_string(api, thread_id):
    r = api.post(f"threads/{thread_id}/messages", json={"role": "user", "content": "How does AI work?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"].startswith("msg_") and len(body["id"]) >= 28
    assert body["object"] == "thread.message"
    assert body["thread_id"] == thread_id
    assert body["role"] == "user" and body["status"] == "completed"
    assert body["content"] == [{"type": "text", "text": {"value": "How does AI work?", "annotations": []}}]
    assert body["attachments"] == [] and body["metadata"] == {}
    assert body["assistant_id"] is None and body["run_id"] is None
    assert body["incomplete_details"] is None and body["incomplete_at"] is None
    assert isinstance(body["completed_at"], int)

    stored = Message.objects.get(pk=body["id"])
    assert stored.thread_id == thread_id and stored.role == "user"
    assert stored.content == body["content"]


def test_it_creates_an_assistant_message_with_metadata(api, thread_id):
    r = api.post(
        f"threads/{thread_id}/messages",
        json={"role": "assistant", "content": "Earlier answer", "metadata": {"source": "import"}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "assistant" and r.json()["metadata"] == {"source": "import"}
    assert Message.objects.get(pk=r.json()["id"]).metadata == {"source": "import"}


def test_it_creates_a_message_from_parts(api, thread_id):
    image = _upload(api)
    r = api.post(
        f"threads/{thread_id}/messages",
        json={
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare these two."},
                {"type": "image_file", "image_file": {"file_id": image, "detail": "high"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/dog.jpg", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_file", "image_file": {"file_id": image}},
            ],
        },
    )
    assert r.status_code == 200, r.text
    expected = [
        {"type": "text", "text": {"value": "Compare these two.", "annotations": []}},
        {"type": "image_file", "image_file": {"file_id": image, "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/dog.jpg", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"}},
        {"type": "image_file", "image_file": {"file_id": image, "detail": "auto"}},
    ]
    assert r.json()["content"] == expected
    assert Message.objects.get(pk=r.json()["id"]).content == expected


def test_it_creates_a_message_with_attachments(api, thread_id):
    data = _upload(api, "data.csv", b"a,b\n1,2\n", "assistants")
    doc = _upload(api, "doc.txt", b"hello", "assistants")
    attachments = [
        {"file_id": data, "tools": [{"type": "code_interpreter"}, {"type": "file_search"}]},
        {"file_id": doc, "tools": [{"type": "file_search"}]},
        {"file_id": doc},
    ]
    r = api.post(
        f"threads/{thread_id}/messages",
        json={"role": "user", "content": "See files", "attachments": attachments},
    )
    assert r.status_code == 200, r.text
    expected = [
        {"file_id": data, "tools": [{"type": "code_interpreter"}, {"type": "file_search"}]},
        {"file_id": doc, "tools": [{"type": "file_search"}]},
        {"file_id": doc, "tools": []},
    ]
    assert r.json()["attachments"] == expected
    assert Message.objects.get(pk=r.json()["id"]).attachments == expected


def test_it_lists_messages_in_order(api, thread_id):
    ids = [
        api.post(f"threads/{thread_id}/messages", json={"role": "user", "content": str(i)}).json()["id"]
        for i in range(4)
    ]
    desc = api.get(f"threads/{thread_id}/messages")
    assert desc.status_code == 200, desc.text
    body = desc.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ids[::-1]
    assert body["first_id"] == ids[-1] and body["last_id"] == ids[0] and body["has_more"] is False

    asc = api.get(f"threads/{thread_id}/messages", params={"order": "asc"}).json()
    assert [m["id"] for m in asc["data"]] == ids
    assert [m["content"][0]["text"]["value"] for m in asc["data"]] == ["0", "1", "2", "3"]


def test_it_limits_and_pages_messages(api, thread_id):
    ids = [
        api.post(f"threads/{thread_id}/messages", json={"role": "user", "content": str(i)}).json()["id"]
        for i in range(5)
    ]
    page = api.get(f"threads/{thread_id}/messages", params={"limit": 2}).json()
    assert [m["id"] for m in page["data"]] == [ids[4], ids[3]] and page["has_more"] is True
    page = api.get(f"threads/{thread_id}/messages", params={"limit": 2, "after": page["last_id"]}).json()
    assert [m["id"] for m in page["data"]] == [ids[2], ids[1]] and page["has_more"] is True
    page = api.get(f"threads/{thread_id}/messages", params={"limit": 2, "after": page["last_id"]}).json()
    assert [m["id"] for m in page["data"]] == [ids[0]] and page["has_more"] is False
    back = api.get(f"threads/{thread_id}/messages", params={"limit": 2, "before": ids[0]}).json()
    assert [m["id"] for m in back["data"]] == [ids[2], ids[1]] and back["has_more"] is True


def test_it_does_not_list_messages_of_other_threads(api, thread_id):
    other = api.post("threads", json={"messages": [{"role": "user", "content": "elsewhere"}]}).json()["id"]
    mine = api.post(f"threads/{thread_id}/messages", json={"role": "user", "content": "here"}).json()["id"]
    assert [m["id"] for m in api.get(f"threads/{thread_id}/messages").json()["data"]] == [mine]
    assert len(api.get(f"threads/{other}/messages").json()["data"]) == 1
    r = api.get(f"threads/{thread_id}/messages", params={"after": Message.objects.get(thread_id=other).id})
    assert r.status_code == 400 and r.json()["error"]["param"] == "after"


def test_it_filters_messages_by_run_id(api, thread_id):
    ids = [
        api.post(f"threads/{thread_id}/messages", json={"role": "user", "content": str(i)}).json()["id"]
        for i in range(4)
    ]
    Message.objects.filter(pk__in=ids[1:3]).update(run_id="run_abc", assistant_id="asst_abc")
    Message.objects.filter(pk=ids[3]).update(run_id="run_other")

    r = api.get(f"threads/{thread_id}/messages", params={"run_id": "run_abc", "order": "asc"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [m["id"] for m in body["data"]] == ids[1:3]
    assert all(m["run_id"] == "run_abc" and m["assistant_id"] == "asst_abc" for m in body["data"])
    assert body["first_id"] == ids[1] and body["last_id"] == ids[2]

    limited = api.get(f"threads/{thread_id}/messages", params={"run_id": "run_abc", "limit": 1}).json()
    assert [m["id"] for m in limited["data"]] == [ids[2]] and limited["has_more"] is True

    assert api.get(f"threads/{thread_id}/messages", params={"run_id": "run_none"}).json()["data"] == []
    assert len(api.get(f"threads/{thread_id}/messages").json()["data"]) == 4


def test_it_retrieves_a_message(api, thread_id):
    created = api.post(f"threads/{thread_id}/messages", json={"role": "user", "content": "hi"}).json()
    r = api.get(f"threads/{thread_id}/messages/{created['id']}")
    assert r.status_code == 200
    assert r.json() == created


def test_it_modifies_metadata(api, thread_id):
    created = api.post(
        f"threads/{thread_id}/messages", json={"role": "user", "content": "hi", "metadata": {"a": "1"}}
    ).json()
    r = api.post(f"threads/{thread_id}/messages/{created['id']}", json={"metadata": {"b": "2"}})
    assert r.status_code == 200, r.text
    assert r.json()["metadata"] == {"b": "2"}
    assert r.json()["content"] == created["content"]
    stored = Message.objects.get(pk=created["id"])
    assert stored.metadata == {"b": "2"} and stored.content == created["content"]


@pytest.mark.parametrize(
    ("payload", "param", "fragment"),
    [
        ({"content": "changed"}, "content", "Unrecognized request argument supplied: content"),
        ({"role": "assistant"}, "role", "Unrecognized request argument supplied: role"),
        ({"attachments": []}, "attachments", "Unrecognized request argument supplied: attachments"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "too many properties"),
        ({"metadata": {"k": 1}}, "metadata.k", "expected a string"),
    ],
)
def test_it_accepts_only_metadata_when_modifying(api, thread_id, payload, param, fragment):
    created = api.post(
        f"threads/{thread_id}/messages", json={"role": "user", "content": "hi", "metadata": {"a": "1"}}
    ).json()
    r = api.post(f"threads/{thread_id}/messages/{created['id']}", json=payload)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param
    assert fragment in r.json()["error"]["message"]
    stored = Message.objects.get(pk=created["id"])
    assert stored.metadata == {"a": "1"} and stored.role == "user"
    assert stored.content[0]["text"]["value"] == "hi"


def test_it_deletes_a_message(api, thread_id):
    kept = api.post(f"threads/{thread_id}/messages", json={"role": "user", "content": "keep"}).json()
    doomed = api.post(f"threads/{thread_id}/messages", json={"role": "user", "content": "drop"}).json()
    r = api.delete(f"threads/{thread_id}/messages/{doomed['id']}")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": doomed["id"], "object": "thread.message.deleted", "deleted": True}
    assert not Message.objects.filter(pk=doomed["id"]).exists()
    assert Message.objects.filter(pk=kept["id"]).exists()
    assert api.get(f"threads/{thread_id}/messages/{doomed['id']}").status_code == 404
    assert [m["id"] for m in api.get(f"threads/{thread_id}/messages").json()["data"]] == [kept["id"]]


def test_it_answers_404_for_a_message_in_another_thread(api, thread_id):
    other = api.post("threads", json={"messages": [{"role": "user", "content": "elsewhere"}]}).json()["id"]
    foreign = Message.objects.get(thread_id=other).id
    expected = f"No message found with id '{foreign}'."
    for request in (
        lambda: api.get(f"threads/{thread_id}/messages/{foreign}"),
        lambda: api.post(f"threads/{thread_id}/messages/{foreign}", json={"metadata": {"x": "y"}}),
        lambda: api.delete(f"threads/{thread_id}/messages/{foreign}"),
    ):
        r = request()
        assert r.status_code == 404, r.text
        assert r.json()["error"]["message"] == expected
    stored = Message.objects.get(pk=foreign)
    assert stored.metadata == {}


def test_it_answers_404_for_a_missing_message_or_thread(api, thread_id):
    r = api.get(f"threads/{thread_id}/messages/msg_nope")
    assert r.status_code == 404 and r.json()["error"]["message"] == "No message found with id 'msg_nope'."
    for request in (
        lambda: api.get("threads/thread_nope/messages"),
        lambda: api.post("threads/thread_nope/messages", json={"role": "user", "content": "x"}),
        lambda: api.get("threads/thread_nope/messages/msg_nope"),
    ):
        r = request()
        assert r.status_code == 404
        assert r.json()["error"]["message"] == "No thread found with id 'thread_nope'."
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "param", "fragment"),
    [
        ({"content": "x"}, "role", "Missing required parameter: 'role'."),
        ({"role": "user"}, "content", "Missing required parameter: 'content'."),
        (
            {"role": "system", "content": "x"},
            "role",
            "Invalid value: 'system'. Supported values are: 'user' and 'assistant'.",
        ),
        (
            {"role": "user", "content": "x", "bogus": True},
            "bogus",
            "Unrecognized request argument supplied: bogus",
        ),
        ({"role": "user", "content": []}, "content", "array too short"),
        ({"role": "user", "content": 5}, "content", "Invalid type for 'content'"),
        ({"role": "user", "content": "x" * 256_001}, "content", "string too long"),
        (
            {"role": "user", "content": [{"type": "audio", "audio": {}}]},
            "content[0].type",
            "Invalid value: 'audio'",
        ),
        ({"role": "user", "content": [{"text": "no type"}]}, "content[0].type", "Missing required parameter"),
        ({"role": "user", "content": [{"type": "text"}]}, "content[0].text", "Missing required parameter"),
        (
            {"role": "user", "content": [{"type": "text", "text": "x", "extra": 1}]},
            "content[0].extra",
            "Unrecognized request argument supplied: content[0].extra",
        ),
        (
            {"role": "user", "content": [{"type": "image_file", "image_file": {"file_id": "file-missing"}}]},
            "content",
            "no file found with id 'file-missing'",
        ),
        (
            {"role": "user", "content": [{"type": "image_file", "image_file": {}}]},
            "content[0].image_file.file_id",
            "Missing required parameter",
        ),
        (
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}],
            },
            "content[0].image_url.url",
            "does not match pattern",
        ),
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "not a url"}}]},
            "content[0].image_url.url",
            "does not match pattern",
        ),
        (
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "max"}}],
            },
            "content[0].image_url.detail",
            "Invalid value: 'max'",
        ),
        (
            {"role": "user", "content": "x", "attachments": [{"file_id": "file-missing"}]},
            "attachments",
            "no file found with id 'file-missing'",
        ),
        (
            {"role": "user", "content": "x", "attachments": [{"tools": []}]},
            "attachments[0].file_id",
            "Missing required parameter",
        ),
        (
            {
                "role": "user",
                "content": "x",
                "attachments": [{"file_id": "f", "tools": [{"type": "function"}]}],
            },
            "attachments[0].tools[0].type",
            "Invalid value: 'function'",
        ),
        (
            {"role": "user", "content": "x", "metadata": {"k" * 65: "v"}},
            "metadata",
            "too long",
        ),
    ],
)
def test_it_rejects_invalid_messages(api, thread_id, payload, param, fragment):
    r = api.post(f"threads/{thread_id}/messages", json=payload)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert fragment in error["message"]
    assert Message.objects.count() == 0


def test_it_rejects_an_unknown_attachment_tool_even_with_a_real_file(api, thread_id):
    file_id = _upload(api, "a.txt", b"a", "assistants")
    r = api.post(
        f"threads/{thread_id}/messages",
        json={
            "role": "user",
            "content": "x",
            "attachments": [{"file_id": file_id, "tools": [{"type": "retrieval"}]}],
        },
    )
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "attachments[0].tools[0].type"
    assert "Supported values are: 'code_interpreter' and 'file_search'" in r.json()["error"]["message"]
    assert Message.objects.count() == 0


def test_it_validates_list_parameters(api, thread_id):
    r = api.get(f"threads/{thread_id}/messages", params={"limit": 101})
    assert r.status_code == 400 and r.json()["error"]["param"] == "limit"
    r = api.get(f"threads/{thread_id}/messages", params={"order": "up"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "order"
    r = api.get(f"threads/{thread_id}/messages", params={"before": "msg_nope"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "before"
