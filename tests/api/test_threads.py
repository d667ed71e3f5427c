from __future__ import annotations

import pytest

from console.threads.models import Message, Thread


def _upload(api, name: str = "data.csv", content: bytes = b"x,y\n1,2\n") -> str:
    r = api.post("files", files={"file": (name, content)}, data={"purpose": "assistants"})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_it_creates_an_empty_thread(api, owner):
    r = api.post("threads")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"].startswith("thread_") and len(body["id"]) >= 31
    assert body["object"] == "thread"
    assert isinstance(body["created_at"], int)
    assert body["tool_resources"] == {} and body["metadata"] == {}
    stored = Thread.objects.get(pk=body["id"])
    assert stored.project_id == owner.project.pk
    assert stored.messages.count() == 0


def test_it_accepts_an_empty_json_object(api):
    r = api.post("threads", json={})
    assert r.status_code == 200, r.text
    assert Thread.objects.filter(pk=r.json()["id"]).exists()


def test_it_creates_a_thread_with_initial_messages(api):
    image = api.post(
        "files", files={"file": ("cat.png", b"\x89PNG fake")}, data={"purpose": "vision"}
    ).json()["id"]
    r = api.post(
        "threads",
        json={
            "messages": [
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": "Hi, how can I help?"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is in this picture?"},
                        {"type": "image_file", "image_file": {"file_id": image, "detail": "low"}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                    ],
                    "metadata": {"n": "3"},
                },
            ]
        },
    )
    assert r.status_code == 200, r.text
    thread_id = r.json()["id"]

    stored = list(Message.objects.filter(thread_id=thread_id).order_by("created_at", "id"))
    assert [m.role for m in stored] == ["user", "assistant", "user"]
    assert stored[0].content == [{"type": "text", "text": {"value": "Hello", "annotations": []}}]
    assert stored[2].content == [
        {"type": "text", "text": {"value": "What is in this picture?", "annotations": []}},
        {"type": "image_file", "image_file": {"file_id": image, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "auto"}},
    ]
    assert stored[2].metadata == {"n": "3"}

    listed = api.get(f"threads/{thread_id}/messages", params={"order": "asc"}).json()["data"]
    assert [m["id"] for m in listed] == [m.id for m in stored]
    assert listed[1]["content"][0]["text"]["value"] == "Hi, how can I help?"
    assert all(m["thread_id"] == thread_id and m["status"] == "completed" for m in listed)


def test_it_creates_a_thread_with_tool_resources_and_metadata(api):
    file_id = _upload(api)
    r = api.post(
        "threads",
        json={
            "tool_resources": {"code_interpreter": {"file_ids": [file_id]}},
            "metadata": {"user": "u_1", "topic": "billing"},
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tool_resources"] == {"code_interpreter": {"file_ids": [file_id]}}
    assert body["metadata"] == {"user": "u_1", "topic": "billing"}
    stored = Thread.objects.get(pk=body["id"])
    assert stored.tool_resources == {"code_interpreter": {"file_ids": [file_id]}}
    assert stored.metadata == {"user": "u_1", "topic": "billing"}


def test_it_retrieves_a_thread(api):
    created = api.post("threads", json={"metadata": {"a": "b"}}).json()
    r = api.get(f"threads/{created['id']}")
    assert r.status_code == 200
    assert r.json() == created


def test_it_answers_404_for_a_missing_thread(api):
    for request in (
        lambda: api.get("threads/thread_nope"),
        lambda: api.post("threads/thread_nope", json={"metadata": {}}),
        lambda: api.delete("threads/thread_nope"),
    ):
        r = request()
        assert r.status_code == 404
        assert r.json()["error"] == {
            "message": "No thread found with id 'thread_nope'.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }


def test_it_modifies_metadata(api):
    created = api.post("threads", json={"metadata": {"a": "1", "b": "2"}}).json()
    r = api.post(f"threads/{created['id']}", json={"metadata": {"c": "3"}})
    assert r.status_code == 200, r.text
    assert r.json()["metadata"] == {"c": "3"}
    assert r.json()["created_at"] == created["created_at"]
    assert Thread.objects.get(pk=created["id"]).metadata == {"c": "3"}

    r = api.post(f"threads/{created['id']}", json={"metadata": {}})
    assert r.json()["metadata"] == {}
    assert Thread.objects.get(pk=created["id"]).metadata == {}


def test_it_modifies_tool_resources_and_keeps_what_was_not_sent(api):
    first, second = _upload(api), _upload(api, "b.txt", b"b")
    created = api.post(
        "threads",
        json={"tool_resources": {"code_interpreter": {"file_ids": [first]}}, "metadata": {"keep": "me"}},
    ).json()

    r = api.post(
        f"threads/{created['id']}", json={"tool_resources": {"code_interpreter": {"file_ids": [second]}}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["tool_resources"] == {"code_interpreter": {"file_ids": [second]}}
    assert r.json()["metadata"] == {"keep": "me"}
    stored = Thread.objects.get(pk=created["id"])
    assert stored.tool_resources == {"code_interpreter": {"file_ids": [second]}}
    assert stored.metadata == {"keep": "me"}

    r = api.post(f"threads/{created['id']}", json={})
    assert r.status_code == 200
    assert r.json()["tool_resources"] == {"code_interpreter": {"file_ids": [second]}}


def test_it_rejects_missing_files_when_modifying(api):
    created = api.post("threads", json={"metadata": {"a": "1"}}).json()
    r = api.post(
        f"threads/{created['id']}", json={"tool_resources": {"code_interpreter": {"file_ids": ["file-gone"]}}}
    )
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "tool_resources.code_interpreter.file_ids"
    assert "no file found with id 'file-gone'" in r.json()["error"]["message"]
    assert Thread.objects.get(pk=created["id"]).tool_resources == {}


def test_it_deletes_a_thread_and_its_messages(api):
    created = api.post(
        "threads", json={"messages": [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]}
    ).json()
    api.post(f"threads/{created['id']}/messages", json={"role": "user", "content": "three"})
    assert Message.objects.filter(thread_id=created["id"]).count() == 3

    r = api.delete(f"threads/{created['id']}")
    assert r.status_code == 200
    assert r.json() == {"id": created["id"], "object": "thread.deleted", "deleted": True}
    assert not Thread.objects.filter(pk=created["id"]).exists()
    assert Message.objects.filter(thread_id=created["id"]).count() == 0
    assert api.get(f"threads/{created['id']}").status_code == 404
    assert api.get(f"threads/{created['id']}/messages").status_code == 404


def test_it_leaves_other_threads_alone_on_delete(api):
    doomed = api.post("threads", json={"messages": [{"role": "user", "content": "x"}]}).json()
    kept = api.post("threads", json={"messages": [{"role": "user", "content": "y"}]}).json()
    api.delete(f"threads/{doomed['id']}")
    assert Thread.objects.filter(pk=kept["id"]).exists()
    assert Message.objects.filter(thread_id=kept["id"]).count() == 1


@pytest.mark.parametrize(
    ("payload", "param", "fragment"),
    [
        ({"bogus": 1}, "bogus", "Unrecognized request argument supplied: bogus"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages[0].role", "Invalid value: 'system'"),
        ({"messages": [{"content": "x"}]}, "messages[0].role", "Missing required parameter"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "Missing required parameter"),
        (
            {"messages": [{"role": "user", "content": "x", "extra": 1}]},
            "messages[0].extra",
            "Unrecognized request argument supplied: messages[0].extra",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}] * 33},
            "messages",
            "array too long. Expected an array with maximum length 32, but got an array with length 33",
        ),
        ({"messages": "hello"}, "messages", "expected an array"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "too many properties"),
        ({"metadata": {"k" * 65: "v"}}, "metadata", "too long"),
        ({"metadata": {"k": "v" * 513}}, "metadata", "string too long"),
        ({"metadata": {"k": 1}}, "metadata.k", "expected a string"),
        ({"metadata": "x"}, "metadata", "expected an object"),
        (
            {"tool_resources": {"code_interpreter": {"file_ids": ["file-missing"]}}},
            "tool_resources.code_interpreter.file_ids",
            "no file found with id 'file-missing'",
        ),
        (
            {"tool_resources": {"code_interpreter": {"file_ids": [f"f{i}" for i in range(21)]}}},
            "tool_resources.code_interpreter.file_ids",
            "array too long",
        ),
        (
            {"tool_resources": {"browser": {}}},
            "tool_resources.browser",
            "Unrecognized request argument supplied: tool_resources.browser",
        ),
        (
            {"messages": [{"role": "user", "content": "x", "attachments": [{"file_id": "file-missing"}]}]},
            "messages[0].attachments",
            "no file found with id 'file-missing'",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_file", "image_file": {"file_id": "file-missing"}}],
                    }
                ]
            },
            "messages[0].content",
            "no file found with id 'file-missing'",
        ),
    ],
)
def test_it_rejects_invalid_threads(api, payload, param, fragment):
    r = api.post("threads", json=payload)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert fragment in error["message"]
    assert Thread.objects.count() == 0
    assert Message.objects.count() == 0


def test_it_accepts_exactly_32_messages(api):
    r = api.post("threads", json={"messages": [{"role": "user", "content": str(i)} for i in range(32)]})
    assert r.status_code == 200, r.text
    stored = Message.objects.filter(thread_id=r.json()["id"]).order_by("created_at", "id")
    assert [m.content[0]["text"]["value"] for m in stored] == [str(i) for i in range(32)]


@pytest.mark.parametrize(
    ("payload", "param", "fragment"),
    [
        ({"messages": []}, "messages", "Unrecognized request argument supplied: messages"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "too many properties"),
        ({"tool_resources": "x"}, "tool_resources", "expected an object"),
    ],
)
def test_it_validates_modifications(api, payload, param, fragment):
    created = api.post("threads", json={"metadata": {"a": "1"}}).json()
    r = api.post(f"threads/{created['id']}", json=payload)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param
    assert fragment in r.json()["error"]["message"]
    assert Thread.objects.get(pk=created["id"]).metadata == {"a": "1"}


# The list extension: GET /v1/threads


def test_it_lists_threads_newest_first(api):
    ids = [api.post("threads").json()["id"] for _ in range(3)]
    r = api.get("threads")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list"
    assert [t["id"] for t in body["data"]] == ids[::-1]
    assert body["first_id"] == ids[-1] and body["last_id"] == ids[0]
    assert body["has_more"] is False


def test_it_lists_no_threads(api):
    assert api.get("threads").json() == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


def test_it_paginates_threads(api):
    ids = [api.post("threads").json()["id"] for _ in range(5)]
    first = api.get("threads", params={"limit": 2, "order": "asc"}).json()
    assert [t["id"] for t in first["data"]] == ids[:2] and first["has_more"] is True
    second = api.get("threads", params={"limit": 2, "order": "asc", "after": first["last_id"]}).json()
    assert [t["id"] for t in second["data"]] == ids[2:4] and second["has_more"] is True
    third = api.get("threads", params={"limit": 2, "order": "asc", "after": second["last_id"]}).json()
    assert [t["id"] for t in third["data"]] == ids[4:] and third["has_more"] is False
    back = api.get("threads", params={"limit": 2, "order": "asc", "before": third["first_id"]}).json()
    assert [t["id"] for t in back["data"]] == ids[2:4]


def test_it_filters_threads_by_metadata(api):
    a = api.post("threads", json={"metadata": {"user": "alice", "topic": "billing"}}).json()["id"]
    b = api.post("threads", json={"metadata": {"user": "alice", "topic": "support"}}).json()["id"]
    c = api.post("threads", json={"metadata": {"user": "bob", "topic": "billing"}}).json()["id"]
    api.post("threads")

    alice = api.get("threads", params={"metadata[user]": "alice"}).json()
    assert [t["id"] for t in alice["data"]] == [b, a]

    billing = api.get("threads", params={"metadata[topic]": "billing", "order": "asc"}).json()
    assert [t["id"] for t in billing["data"]] == [a, c]

    both = api.get("threads", params={"metadata[user]": "alice", "metadata[topic]": "billing"}).json()
    assert [t["id"] for t in both["data"]] == [a]
    assert both["first_id"] == a and both["last_id"] == a and both["has_more"] is False

    none = api.get("threads", params={"metadata[user]": "carol"}).json()
    assert none["data"] == [] and none["first_id"] is None

    missing_key = api.get("threads", params={"metadata[nope]": "alice"}).json()
    assert missing_key["data"] == []


def test_it_paginates_filtered_threads(api):
    matching = [api.post("threads", json={"metadata": {"k": "v"}}).json()["id"] for _ in range(3)]
    api.post("threads", json={"metadata": {"k": "other"}})
    page = api.get("threads", params={"metadata[k]": "v", "limit": 2}).json()
    assert [t["id"] for t in page["data"]] == matching[:0:-1] and page["has_more"] is True
    rest = api.get("threads", params={"metadata[k]": "v", "limit": 2, "after": page["last_id"]}).json()
    assert [t["id"] for t in rest["data"]] == [matching[0]] and rest["has_more"] is False


def test_it_filters_on_keys_with_special_characters(api):
    odd = api.post("threads", json={"metadata": {"a__b": "1", "x.y": "2"}}).json()["id"]
    api.post("threads", json={"metadata": {"a": "1"}})
    assert [t["id"] for t in api.get("threads", params={"metadata[a__b]": "1"}).json()["data"]] == [odd]
    assert [t["id"] for t in api.get("threads", params={"metadata[x.y]": "2"}).json()["data"]] == [odd]


def test_it_validates_list_parameters(api):
    r = api.get("threads", params={"limit": 0})
    assert r.status_code == 400 and r.json()["error"]["param"] == "limit"
    r = api.get("threads", params={"order": "sideways"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "order"
    r = api.get("threads", params={"after": "thread_nope"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "after"
