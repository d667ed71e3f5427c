from __future__ import annotations

import httpx
import pytest

from console.assistants.models import Assistant
from console.files.models import File
from console.projects.models import ApiKey
from console.projects.services import create_api_key, hash_key, revoke_api_key
from console.threads.models import Message, Thread
from tests.contract import check_response

MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using "
    "Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)

ENDPOINTS = [
    ("GET", "assistants"),
    ("POST", "assistants"),
    ("GET", "assistants/asst_x"),
    ("POST", "assistants/asst_x"),
    ("DELETE", "assistants/asst_x"),
    ("GET", "threads"),
    ("POST", "threads"),
    ("GET", "threads/thread_x"),
    ("DELETE", "threads/thread_x"),
    ("GET", "threads/thread_x/messages"),
    ("POST", "threads/thread_x/messages"),
    ("GET", "threads/thread_x/messages/msg_x"),
    ("GET", "files"),
    ("POST", "files"),
    ("GET", "files/file-x"),
    ("GET", "files/file-x/content"),
    ("DELETE", "files/file-x"),
]


def _client(live_url: str, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(
        base_url=f"{live_url}/v1/", headers=headers, timeout=30, event_hooks={"response": [check_response]}
    )


def _assert_401(r: httpx.Response, message: str | None = None, code: str | None = None) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] is None
    assert error["code"] == code
    if message is not None:
        assert error["message"] == message


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_it_requires_a_key_everywhere(anonymous_api, method, path):
    r = anonymous_api.request(method, path, json={} if method == "POST" else None)
    _assert_401(r, MISSING_KEY)


def test_it_creates_nothing_without_a_key(anonymous_api):
    _assert_401(anonymous_api.post("assistants", json={"model": "m"}), MISSING_KEY)
    _assert_401(anonymous_api.post("threads", json={}), MISSING_KEY)
    _assert_401(
        anonymous_api.post("files", files={"file": ("a", b"a")}, data={"purpose": "assistants"}), MISSING_KEY
    )
    assert Assistant.objects.count() == Thread.objects.count() == File.objects.count() == 0


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Basic dXNlcjpwYXNz", "Token sk-proj-abc", "sk-proj-abc", "Bearer\tsk-proj-abc"],
)
def test_it_rejects_a_malformed_header(live_url, owner, header):
    with _client(live_url, {"Authorization": header}) as client:
        _assert_401(client.get("assistants"), MISSING_KEY)


def test_it_rejects_the_right_key_with_the_wrong_scheme(live_url, owner):
    with _client(live_url, {"Authorization": f"Basic {owner.key}"}) as client:
        _assert_401(client.get("assistants"), MISSING_KEY)


def test_it_accepts_a_lowercase_scheme(live_url, owner):
    with _client(live_url, {"Authorization": f"bearer {owner.key}"}) as client:
        assert client.get("assistants").status_code == 200


def test_it_rejects_a_wrong_key_and_redacts_it(live_url, owner):
    wrong = "sk-proj-thisIsNotARealKeyAtAll1234"
    with _client(live_url, {"Authorization": f"Bearer {wrong}"}) as client:
        r = client.get("assistants")
    _assert_401(r, "Incorrect API key provided: sk-proj-****1234.", code="invalid_api_key")
    assert wrong not in r.text


def test_it_rejects_a_near_miss_of_a_real_key(live_url, owner):
    with _client(live_url, {"Authorization": f"Bearer {owner.key[:-1]}"}) as client:
        _assert_401(client.get("assistants"), code="invalid_api_key")


def test_it_rejects_a_revoked_key(live_url, owner):
    key, raw = create_api_key(owner.project, name="temp")
    with _client(live_url, {"Authorization": f"Bearer {raw}"}) as client:
        assert client.get("assistants").status_code == 200
        revoke_api_key(key)
        r = client.get("assistants")
        _assert_401(r, code="invalid_api_key")
        assert r.json()["error"]["message"].startswith("Incorrect API key provided: sk-proj-")
        _assert_401(client.post("assistants", json={"model": "m"}), code="invalid_api_key")
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert Assistant.objects.count() == 0
    # Revoking one key leaves the project's other keys working.
    with _client(live_url, {"Authorization": f"Bearer {owner.key}"}) as client:
        assert client.get("assistants").status_code == 200


def test_it_records_when_a_key_was_last_used(api, owner):
    key = ApiKey.objects.get(key_hash=hash_key(owner.key))
    assert key.last_used_at is None
    assert api.get("assistants").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_it_accepts_the_beta_header_and_works_without_it(live_url, owner):
    auth = {"Authorization": f"Bearer {owner.key}"}
    with _client(live_url, {**auth, "OpenAI-Beta": "assistants=v2"}) as client:
        r = client.post("assistants", json={"model": "m"})
        assert r.status_code == 200, r.text
    with _client(live_url, auth) as client:
        assert client.get(f"assistants/{r.json()['id']}").status_code == 200


# Project isolation: another project's objects look exactly like missing ones.


def _assert_hidden(r: httpx.Response, kind: str, object_id: str) -> None:
    assert r.status_code == 404, r.text
    assert r.json()["error"] == {
        "message": f"No {kind} found with id '{object_id}'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_it_hides_assistants_of_other_projects(api, outsider_api):
    created = api.post("assistants", json={"model": "m", "name": "mine"}).json()
    aid = created["id"]
    _assert_hidden(outsider_api.get(f"assistants/{aid}"), "assistant", aid)
    _assert_hidden(outsider_api.post(f"assistants/{aid}", json={"name": "stolen"}), "assistant", aid)
    _assert_hidden(outsider_api.delete(f"assistants/{aid}"), "assistant", aid)
    assert outsider_api.get("assistants").json()["data"] == []
    # The same message as for an id that never existed.
    assert outsider_api.get("assistants/asst_missing").json()["error"]["message"] == (
        "No assistant found with id 'asst_missing'."
    )
    stored = Assistant.objects.get(pk=aid)
    assert stored.name == "mine"
    assert api.get(f"assistants/{aid}").json() == created


def test_it_hides_threads_and_messages_of_other_projects(api, outsider_api):
    thread = api.post(
        "threads", json={"messages": [{"role": "user", "content": "private"}], "metadata": {"k": "v"}}
    )
    tid = thread.json()["id"]
    mid = Message.objects.get(thread_id=tid).id

    _assert_hidden(outsider_api.get(f"threads/{tid}"), "thread", tid)
    _assert_hidden(outsider_api.post(f"threads/{tid}", json={"metadata": {"k": "stolen"}}), "thread", tid)
    _assert_hidden(outsider_api.delete(f"threads/{tid}"), "thread", tid)
    _assert_hidden(outsider_api.get(f"threads/{tid}/messages"), "thread", tid)
    _assert_hidden(
        outsider_api.post(f"threads/{tid}/messages", json={"role": "user", "content": "x"}), "thread", tid
    )
    _assert_hidden(outsider_api.get(f"threads/{tid}/messages/{mid}"), "thread", tid)
    _assert_hidden(outsider_api.post(f"threads/{tid}/messages/{mid}", json={"metadata": {}}), "thread", tid)
    _assert_hidden(outsider_api.delete(f"threads/{tid}/messages/{mid}"), "thread", tid)

    assert outsider_api.get("threads").json()["data"] == []
    assert outsider_api.get("threads", params={"metadata[k]": "v"}).json()["data"] == []

    stored = Thread.objects.get(pk=tid)
    assert stored.metadata == {"k": "v"}
    assert list(Message.objects.filter(thread_id=tid).values_list("id", flat=True)) == [mid]
    assert Message.objects.get(pk=mid).metadata == {}


def test_it_hides_a_message_behind_the_outsiders_own_thread(api, outsider_api):
    tid = api.post("threads", json={"messages": [{"role": "user", "content": "private"}]}).json()["id"]
    mid = Message.objects.get(thread_id=tid).id
    own = outsider_api.post("threads").json()["id"]
    _assert_hidden(outsider_api.get(f"threads/{own}/messages/{mid}"), "message", mid)
    _assert_hidden(outsider_api.delete(f"threads/{own}/messages/{mid}"), "message", mid)
    assert Message.objects.filter(pk=mid).exists()


def test_it_hides_files_of_other_projects(api, outsider_api):
    fid = api.post("files", files={"file": ("secret.txt", b"secret")}, data={"purpose": "assistants"}).json()[
        "id"
    ]
    _assert_hidden(outsider_api.get(f"files/{fid}"), "file", fid)
    _assert_hidden(outsider_api.get(f"files/{fid}/content"), "file", fid)
    _assert_hidden(outsider_api.delete(f"files/{fid}"), "file", fid)
    assert outsider_api.get("files").json()["data"] == []
    assert outsider_api.get("files", params={"purpose": "assistants"}).json()["data"] == []
    assert File.objects.filter(pk=fid).exists()
    assert api.get(f"files/{fid}/content").content == b"secret"


def test_it_refuses_to_attach_other_projects_files(api, outsider_api):
    fid = api.post("files", files={"file": ("secret.txt", b"secret")}, data={"purpose": "assistants"}).json()[
        "id"
    ]
    cases = [
        ("assistants", {"model": "m", "tool_resources": {"code_interpreter": {"file_ids": [fid]}}}),
        ("threads", {"tool_resources": {"code_interpreter": {"file_ids": [fid]}}}),
        ("threads", {"messages": [{"role": "user", "content": "x", "attachments": [{"file_id": fid}]}]}),
    ]
    for path, payload in cases:
        r = outsider_api.post(path, json=payload)
        assert r.status_code == 400, r.text
        assert f"no file found with id '{fid}'" in r.json()["error"]["message"]
    own = outsider_api.post("threads").json()["id"]
    r = outsider_api.post(
        f"threads/{own}/messages",
        json={"role": "user", "content": [{"type": "image_file", "image_file": {"file_id": fid}}]},
    )
    assert r.status_code == 400
    assert Assistant.objects.count() == 0
    assert Thread.objects.count() == 1 and Message.objects.count() == 0


def test_it_lists_only_the_callers_objects(api, outsider_api):
    mine = api.post("assistants", json={"model": "m"}).json()["id"]
    theirs = outsider_api.post("assistants", json={"model": "m"}).json()["id"]
    my_thread = api.post("threads").json()["id"]
    their_thread = outsider_api.post("threads").json()["id"]
    my_file = api.post("files", files={"file": ("a", b"a")}, data={"purpose": "assistants"}).json()["id"]
    their_file = outsider_api.post(
        "files", files={"file": ("b", b"b")}, data={"purpose": "assistants"}
    ).json()["id"]

    assert [a["id"] for a in api.get("assistants").json()["data"]] == [mine]
    assert [a["id"] for a in outsider_api.get("assistants").json()["data"]] == [theirs]
    assert [t["id"] for t in api.get("threads").json()["data"]] == [my_thread]
    assert [t["id"] for t in outsider_api.get("threads").json()["data"]] == [their_thread]
    assert [f["id"] for f in api.get("files").json()["data"]] == [my_file]
    assert [f["id"] for f in outsider_api.get("files").json()["data"]] == [their_file]
