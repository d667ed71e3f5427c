"""Input no endpoint can take: U+0000 anywhere, malformed multipart, a method the URL lacks.
Each gets a clean 4xx in OpenAI's envelope, on SQLite and PostgreSQL alike; nothing is stored."""

from __future__ import annotations

import pytest

from console.assistants.models import Assistant
from console.files.models import File
from console.threads.models import Message, Thread


def _assert_nul_error(response, param: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert "U+0000" in error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "name": "a\u0000b"}, "name"),
        ({"model": "m\u0000"}, "model"),
        ({"model": "m", "instructions": "\u0000"}, "instructions"),
        ({"model": "m", "metadata": {"k": "v\u0000"}}, "metadata.k"),
        ({"model": "m", "metadata": {"k\u0000": "v"}}, "metadata.k\\u0000"),
    ],
)
def test_it_refuses_nul_in_a_json_body(api, body, param):
    _assert_nul_error(api.post("assistants", json=body), param)
    assert not Assistant.objects.exists()


def test_it_refuses_nul_deep_in_a_body(api):
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi\u0000"}]}]}
    _assert_nul_error(api.post("threads", json=body), "messages[0].content[0].text")
    assert not Thread.objects.exists() and not Message.objects.exists()


def test_it_refuses_nul_in_the_path_and_query(api):
    _assert_nul_error(api.get("assistants/asst_%00x"), "assistant_id")
    _assert_nul_error(api.get("assistants", params={"after": "asst_\u0000"}), "after")
    _assert_nul_error(api.get("threads/thread_x/messages", params={"run_id": "\u0000"}), "run_id")
    store = api.post("vector_stores", json={"name": "docs"}).json()["id"]
    _assert_nul_error(api.post(f"vector_stores/{store}/search", json={"query": "a\u0000"}), "query")


def test_it_refuses_nul_in_a_multipart_upload(api):
    response = api.post("files", files={"file": ("a.txt", b"text")}, data={"purpose": "assist\u0000ants"})
    _assert_nul_error(response, "purpose")
    assert not File.objects.exists()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (
            "multipart/form-data",
            b'--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n--x--\r\n',
        ),
        ("multipart/form-data; boundary=", b"garbage"),
        ("multipart/form-data; boundary=\u00e9", b"garbage"),
    ],
)
def test_it_answers_malformed_multipart_with_400(api, content_type, body):
    response = api.post("files", content=body, headers={"Content-Type": content_type.encode("utf-8")})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and "multipart" in error["message"]
    assert not File.objects.exists()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "threads/thread_x/runs", "GET, POST"),
        ("PUT", "assistants", "GET, POST"),
        ("POST", "files/file-x/content", "GET"),
        ("GET", "threads/runs", "POST"),
    ],
)
def test_it_names_the_allowed_methods_in_a_405(api, method, path, allow):
    response = api.request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert response.json()["error"]["type"] == "invalid_request_error"
