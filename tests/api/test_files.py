from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from console.files import storage
from console.files.models import File

PURPOSES = ["assistants", "vision", "batch", "fine-tune", "user_data"]
MB = 1024 * 1024


def _upload(
    api, content: bytes = b"hello", name: str = "hello.txt", purpose: str = "assistants", **extra: str
):
    return api.post("files", files={"file": (name, content)}, data={"purpose": purpose, **extra})


def _envelope(r: httpx.Response) -> dict:
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


@pytest.mark.parametrize("purpose", PURPOSES)
def test_it_uploads_a_file_for_each_purpose(api, owner, purpose):
    r = _upload(api, b"line one\nline two\n", "notes.jsonl", purpose)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"].startswith("file-") and len(body["id"]) >= 29
    assert body["object"] == "file"
    assert body["bytes"] == 18
    assert body["filename"] == "notes.jsonl"
    assert body["purpose"] == purpose
    assert body["status"] == "processed"
    assert isinstance(body["created_at"], int)
    assert "expires_at" not in body

    stored = File.objects.get(pk=body["id"])
    assert stored.project_id == owner.project.pk
    assert stored.purpose == purpose and stored.bytes == 18 and stored.expires_at is None
    assert storage.read_bytes(stored.storage_name) == b"line one\nline two\n"


def test_it_retrieves_a_file(api):
    created = _upload(api).json()
    r = api.get(f"files/{created['id']}")
    assert r.status_code == 200
    assert r.json() == created


def test_it_downloads_the_content_byte_for_byte(api):
    small = bytes(range(256)) * 4
    created = _upload(api, small, "small.bin").json()
    r = api.get(f"files/{created['id']}/content")
    assert r.status_code == 200
    assert r.content == small
    assert "small.bin" in r.headers["content-disposition"]


def test_it_round_trips_a_few_megabytes_of_binary(api):
    # Larger than FILE_UPLOAD_MAX_MEMORY_SIZE, so it spills to a temporary file on the way in.
    data = os.urandom(3 * MB + 123)
    created = _upload(api, data, "blob.bin", "user_data").json()
    assert created["bytes"] == len(data)
    stored = File.objects.get(pk=created["id"])
    assert storage.read_bytes(stored.storage_name) == data

    with api.stream("GET", f"files/{created['id']}/content") as r:
        assert r.status_code == 200
        downloaded = b"".join(r.iter_bytes())
    assert downloaded == data


def test_it_answers_404_for_a_missing_file(api):
    for request in (
        lambda: api.get("files/file-nope"),
        lambda: api.get("files/file-nope/content"),
        lambda: api.delete("files/file-nope"),
    ):
        r = request()
        assert r.status_code == 404
        assert _envelope(r)["message"] == "No file found with id 'file-nope'."


def test_it_deletes_a_file_and_its_bytes(api):
    created = _upload(api, b"secret bytes").json()
    name = File.objects.get(pk=created["id"]).storage_name
    assert storage.exists(name)

    r = api.delete(f"files/{created['id']}")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": created["id"], "object": "file", "deleted": True}
    assert not File.objects.filter(pk=created["id"]).exists()
    assert not storage.exists(name)
    assert api.get(f"files/{created['id']}").status_code == 404
    assert api.get(f"files/{created['id']}/content").status_code == 404
    assert api.delete(f"files/{created['id']}").status_code == 404


def test_it_lists_files(api):
    ids = [_upload(api, str(i).encode(), f"{i}.txt").json()["id"] for i in range(3)]
    r = api.get("files")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list"
    assert [f["id"] for f in body["data"]] == ids[::-1]
    assert body["first_id"] == ids[-1] and body["last_id"] == ids[0] and body["has_more"] is False
    assert [f["filename"] for f in body["data"]] == ["2.txt", "1.txt", "0.txt"]


def test_it_lists_no_files(api):
    assert api.get("files").json() == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


def test_it_filters_files_by_purpose(api):
    a = _upload(api, purpose="assistants").json()["id"]
    v = _upload(api, purpose="vision").json()["id"]
    b = _upload(api, purpose="assistants").json()["id"]
    assert [f["id"] for f in api.get("files", params={"purpose": "assistants"}).json()["data"]] == [b, a]
    assert [f["id"] for f in api.get("files", params={"purpose": "vision"}).json()["data"]] == [v]
    assert api.get("files", params={"purpose": "batch"}).json()["data"] == []
    assert len(api.get("files").json()["data"]) == 3


def test_it_pages_files_with_limit_order_and_after(api):
    ids = [_upload(api, str(i).encode()).json()["id"] for i in range(5)]
    page = api.get("files", params={"limit": 2, "order": "asc"}).json()
    assert [f["id"] for f in page["data"]] == ids[:2] and page["has_more"] is True
    page = api.get("files", params={"limit": 2, "order": "asc", "after": page["last_id"]}).json()
    assert [f["id"] for f in page["data"]] == ids[2:4] and page["has_more"] is True
    page = api.get("files", params={"limit": 2, "order": "asc", "after": page["last_id"]}).json()
    assert [f["id"] for f in page["data"]] == ids[4:] and page["has_more"] is False

    desc = api.get("files", params={"limit": 3}).json()
    assert [f["id"] for f in desc["data"]] == ids[:1:-1] and desc["has_more"] is True
    rest = api.get("files", params={"limit": 3, "after": desc["last_id"]}).json()
    assert [f["id"] for f in rest["data"]] == [ids[1], ids[0]] and rest["has_more"] is False


def test_it_pages_within_a_purpose(api):
    ids = [_upload(api, purpose="batch").json()["id"] for _ in range(3)]
    _upload(api, purpose="vision")
    page = api.get("files", params={"purpose": "batch", "limit": 2}).json()
    assert [f["id"] for f in page["data"]] == [ids[2], ids[1]] and page["has_more"] is True


def test_it_validates_list_parameters(api):
    r = api.get("files", params={"limit": "abc"})
    assert r.status_code == 400 and _envelope(r)["param"] == "limit"
    r = api.get("files", params={"limit": 0})
    assert r.status_code == 400 and _envelope(r)["param"] == "limit"
    r = api.get("files", params={"order": "random"})
    assert r.status_code == 400 and _envelope(r)["param"] == "order"
    r = api.get("files", params={"after": "file-nope"})
    assert r.status_code == 400 and _envelope(r)["param"] == "after"


def test_it_sets_expires_at_from_expires_after(api):
    r = _upload(api, **{"expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["expires_at"] == body["created_at"] + 3600
    stored = File.objects.get(pk=body["id"])
    assert int((stored.expires_at - stored.created_at).total_seconds()) == 3600
    assert api.get(f"files/{body['id']}").json()["expires_at"] == body["expires_at"]

    longest = _upload(
        api, **{"expires_after[anchor]": "created_at", "expires_after[seconds]": "2592000"}
    ).json()
    assert longest["expires_at"] == longest["created_at"] + 2_592_000


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        (
            {"expires_after[anchor]": "last_active_at", "expires_after[seconds]": "3600"},
            "expires_after.anchor",
        ),
        ({"expires_after[seconds]": "3600"}, "expires_after.anchor"),
        ({"expires_after[anchor]": "created_at"}, "expires_after.seconds"),
        ({"expires_after[anchor]": "created_at", "expires_after[seconds]": "soon"}, "expires_after.seconds"),
        ({"expires_after[anchor]": "created_at", "expires_after[seconds]": "-5"}, "expires_after.seconds"),
        ({"expires_after[anchor]": "created_at", "expires_after[seconds]": "3599"}, "expires_after.seconds"),
        (
            {"expires_after[anchor]": "created_at", "expires_after[seconds]": "2592001"},
            "expires_after.seconds",
        ),
    ],
)
def test_it_rejects_bad_expiry(api, fields, param):
    r = _upload(api, **fields)
    assert r.status_code == 400, r.text
    assert _envelope(r)["param"] == param
    assert File.objects.count() == 0


def test_it_rejects_a_bad_purpose(api):
    r = _upload(api, purpose="training")
    assert r.status_code == 400
    error = _envelope(r)
    assert error["type"] == "invalid_request_error" and error["param"] == "purpose"
    assert error["message"].startswith("Invalid value: 'training'. Supported values are: 'assistants'")
    assert File.objects.count() == 0


def test_it_requires_a_file(api):
    r = api.post("files", data={"purpose": "assistants"}, files={"other": ("x", b"")})
    assert r.status_code == 400
    assert _envelope(r)["param"] == "other"

    r = api.post("files", data={"purpose": "assistants"}, files={})
    assert r.status_code in (400, 415)  # httpx sends a urlencoded body when there are no files
    # A multipart body with only the purpose field:
    r = api.post(
        "files",
        content=b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n--b--\r\n',
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 400
    error = _envelope(r)
    assert error["param"] == "file" and error["message"] == "Missing required parameter: 'file'."
    assert File.objects.count() == 0


def test_it_requires_a_purpose(api):
    r = api.post("files", files={"file": ("a.txt", b"a")})
    assert r.status_code == 400
    error = _envelope(r)
    assert error["param"] == "purpose" and error["message"] == "Missing required parameter: 'purpose'."
    assert File.objects.count() == 0


def test_it_rejects_an_unknown_form_field(api):
    r = _upload(api, mode="fast")
    assert r.status_code == 400
    error = _envelope(r)
    assert error["param"] == "mode" and error["message"] == "Unrecognized request argument supplied: mode"
    assert File.objects.count() == 0


def test_it_answers_415_to_a_json_body(api):
    r = api.post("files", json={"file": "aGVsbG8=", "purpose": "assistants"})
    assert r.status_code == 415
    error = _envelope(r)
    assert error["code"] == "unsupported_content_type"
    assert "multipart/form-data" in error["message"]
    assert File.objects.count() == 0


def _raw_request(live_url: str, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Sends only the request head and reads the answer, never sending a body."""
    parts = urlsplit(live_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head)
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
            if b"\r\n\r\n" in received:
                head_part, _, rest = received.partition(b"\r\n\r\n")
                headers = dict(
                    line.decode().split(": ", 1) for line in head_part.split(b"\r\n")[1:] if b": " in line
                )
                headers = {k.lower(): v for k, v in headers.items()}
                if len(rest) >= int(headers.get("content-length", "0")):
                    break
    status = int(head_part.split(b" ")[1])
    return status, headers, rest


def test_it_refuses_a_declared_oversized_body_before_reading_it(live_url, owner):
    claimed = 600 * MB
    head = (
        f"POST /v1/files HTTP/1.1\r\nHost: testserver\r\nAuthorization: Bearer {owner.key}\r\n"
        f"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: {claimed}\r\n\r\n"
    ).encode()
    status, headers, body = _raw_request(live_url, head)
    assert status == 413
    assert headers["content-type"].startswith("application/json")
    import json

    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "file_too_large"
    assert error["param"] == "file" and "512 MB" in error["message"]
    assert File.objects.count() == 0


def test_it_refuses_oversized_bodies_on_other_endpoints_too(live_url, owner):
    head = (
        f"POST /v1/threads HTTP/1.1\r\nHost: testserver\r\nAuthorization: Bearer {owner.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {1024 * MB}\r\n\r\n"
    ).encode()
    status, headers, _ = _raw_request(live_url, head)
    assert status == 413 and headers["content-type"].startswith("application/json")


@pytest.fixture
def one_mb_limit(settings):
    settings.FILE_MAX_BYTES = MB
    return settings


def test_it_refuses_a_file_over_the_limit(api, one_mb_limit):
    r = _upload(api, os.urandom(2 * MB), "big.bin")
    assert r.status_code == 413
    error = _envelope(r)
    assert error["code"] == "file_too_large" and error["param"] == "file"
    assert "1 MB" in error["message"]
    assert File.objects.count() == 0


def test_it_refuses_a_file_over_the_limit_that_fits_the_body_allowance(api, one_mb_limit):
    # Under the ASGI guard's allowance (limit + 1 MB of multipart room), so the upload handler must stop it.
    r = _upload(api, os.urandom(MB + MB // 2), "big.bin")
    assert r.status_code == 413
    error = _envelope(r)
    assert error["code"] == "file_too_large" and error["param"] == "file"
    assert File.objects.count() == 0


def test_it_accepts_a_file_at_the_limit(api, one_mb_limit):
    data = os.urandom(MB)
    r = _upload(api, data, "exact.bin")
    assert r.status_code == 200, r.text
    assert r.json()["bytes"] == MB
    assert storage.read_bytes(File.objects.get().storage_name) == data


def _multipart_chunks(boundary: str, payload: bytes):
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    for start in range(0, len(payload), 64 * 1024):
        yield payload[start : start + 64 * 1024]
    yield f"\r\n--{boundary}--\r\n".encode()


@pytest.mark.parametrize("size", [2 * MB, MB + MB // 2])
def test_it_refuses_a_chunked_upload_over_the_limit(live_url, owner, one_mb_limit, size):
    boundary = "chunkedboundary"
    with httpx.Client(base_url=f"{live_url}/v1/", timeout=30) as client:
        try:
            r = client.post(
                "files",
                content=_multipart_chunks(boundary, os.urandom(size)),
                headers={
                    "Authorization": f"Bearer {owner.key}",
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
            )
        except httpx.TransportError as exc:  # pragma: no cover - the server may close before we finish
            pytest.fail(f"the server dropped the connection instead of answering 413: {exc!r}")
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == 413
    error = _envelope(r)
    assert error["code"] == "file_too_large" and error["param"] == "file"
    assert File.objects.count() == 0


def test_it_accepts_a_chunked_upload_under_the_limit(live_url, owner):
    data = os.urandom(300 * 1024)
    with httpx.Client(base_url=f"{live_url}/v1/", timeout=30) as client:
        r = client.post(
            "files",
            content=_multipart_chunks("b0undary", data),
            headers={
                "Authorization": f"Bearer {owner.key}",
                "Content-Type": "multipart/form-data; boundary=b0undary",
            },
        )
    assert r.status_code == 200, r.text
    assert r.json()["bytes"] == len(data)
    assert storage.read_bytes(File.objects.get().storage_name) == data
