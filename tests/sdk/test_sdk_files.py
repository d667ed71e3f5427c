"""client.files, driven by the unchanged SDK over real HTTP."""

from __future__ import annotations

import io

import openai
import pytest
from openai.types import FileDeleted, FileObject

from console.files.models import File as FileRow
from tests.sdk.conftest import SDK_MAJOR, strictly


def test_it_uploads_a_file_for_assistants(sdk):
    f = sdk.files.create(file=("notes.txt", b"hello, assistants", "text/plain"), purpose="assistants")
    assert isinstance(f, FileObject) and strictly(f) == f
    assert f.id.startswith("file-") and f.object == "file" and f.created_at > 0
    assert (f.filename, f.purpose, f.bytes, f.status) == ("notes.txt", "assistants", 17, "processed")
    assert f.expires_at is None and f.status_details is None
    stored = FileRow.objects.get(pk=f.id)
    assert (stored.filename, stored.bytes) == ("notes.txt", 17)


@pytest.mark.parametrize("purpose", ["assistants", "vision", "batch", "fine-tune", "user_data"])
def test_it_accepts_each_purpose(sdk, purpose):
    f = sdk.files.create(file=("data.jsonl", b'{"a": 1}\n', "application/jsonl"), purpose=purpose)
    assert f.purpose == purpose
    assert sdk.files.retrieve(f.id).purpose == purpose


def test_it_uploads_from_a_file_object_and_keeps_its_name(sdk, tmp_path):
    path = tmp_path / "résumé.md"
    path.write_bytes(b"# CV\n")
    with path.open("rb") as handle:
        f = sdk.files.create(file=handle, purpose="assistants")
    assert f.filename == "résumé.md" and f.bytes == 5
    assert sdk.files.retrieve(f.id).filename == "résumé.md"


def test_it_retrieves_a_file(sdk):
    created = sdk.files.create(file=("a.txt", b"a", "text/plain"), purpose="assistants")
    fetched = sdk.files.retrieve(created.id)
    assert isinstance(fetched, FileObject)
    assert fetched.model_dump() == created.model_dump()
    assert sdk.files.wait_for_processing(created.id).status == "processed"


def test_it_lists_files_and_filters_by_purpose(sdk):
    assistants = [
        sdk.files.create(file=(f"{i}.txt", b"x", "text/plain"), purpose="assistants").id for i in range(3)
    ]
    vision = sdk.files.create(file=("v.png", b"img", "image/png"), purpose="vision").id

    everything = sdk.files.list()
    assert [f.id for f in everything.data] == [vision, *assistants[::-1]]
    assert all(isinstance(f, FileObject) for f in everything.data)
    assert all(strictly(f) == f for f in everything.data)
    assert everything.has_next_page() is False

    only = sdk.files.list(purpose="assistants", order="asc")
    assert [f.id for f in only.data] == assistants
    assert [f.id for f in sdk.files.list(purpose="vision")] == [vision]
    assert sdk.files.list(purpose="batch").data == []

    first = sdk.files.list(limit=2, order="asc")
    assert len(first.data) == 2 and first.has_next_page() is True
    assert [f.id for f in first] == [*assistants, vision]  # auto-pagination


def test_it_downloads_the_exact_bytes(sdk):
    payload = bytes(range(256)) * 4096 + b"\r\n\x00tail"  # every byte value, over 1 MB
    f = sdk.files.create(file=("blob.bin", payload, "application/octet-stream"), purpose="assistants")
    assert f.bytes == len(payload)

    content = sdk.files.content(f.id)
    assert content.read() == payload
    assert content.content == payload

    with sdk.files.with_streaming_response.content(f.id) as response:
        assert response.http_request.url.path.endswith(f"/files/{f.id}/content")
        assert b"".join(response.iter_bytes()) == payload


def test_it_writes_downloaded_content_to_a_file(sdk, tmp_path):
    f = sdk.files.create(file=io.BytesIO(b"abc,def\n"), purpose="assistants")
    target = tmp_path / "out.csv"
    sdk.files.content(f.id).write_to_file(target)
    assert target.read_bytes() == b"abc,def\n"


def test_it_deletes_a_file(sdk):
    f = sdk.files.create(file=("gone.txt", b"bye", "text/plain"), purpose="assistants")
    deleted = sdk.files.delete(f.id)
    assert isinstance(deleted, FileDeleted) and strictly(deleted) == deleted
    assert (deleted.id, deleted.object, deleted.deleted) == (f.id, "file", True)
    assert not FileRow.objects.filter(pk=f.id).exists()
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(f.id)
    with pytest.raises(openai.NotFoundError):
        sdk.files.content(f.id)


@pytest.mark.skipif(SDK_MAJOR < 2, reason="openai 1.65.5's files.create has no expires_after")
def test_it_sets_an_expiry_through_the_sdk(sdk):
    f = sdk.files.create(
        file=("batch.jsonl", b"{}\n", "application/jsonl"),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert f.expires_at == f.created_at + 3600
    assert sdk.files.retrieve(f.id).expires_at == f.created_at + 3600


def test_it_rejects_an_unknown_purpose(sdk):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.files.create(file=("a.txt", b"a", "text/plain"), purpose="nonsense")  # type: ignore[arg-type]
    assert caught.value.param == "purpose" and caught.value.code == "invalid_value"
