"""Upload sessions: every file is attached to the store as it arrives; reopening shows what did not arrive."""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from console.vector_stores.models import VectorStoreFile
from console.web import uploads
from console.web.models import AuditLog, UploadSession
from tests.web.conftest import client_for, htmx


def _wait_done(session_id: int, timeout: float = 30) -> UploadSession:
    deadline = time.monotonic() + timeout
    while True:
        session = UploadSession.objects.get(pk=session_id)
        if session.is_done or time.monotonic() > deadline:
            return session
        time.sleep(0.1)


def test_it_keeps_each_file_that_arrived_when_the_rest_never_comes(people, owner, api, worker):
    store = api.post("vector_stores", json={"name": "manuals"}).json()["id"]
    editor = client_for(people.editor)
    base = f"/p/{owner.project.pk}/vector_stores/{store}"
    names = [f"doc-{i:03d}.txt" for i in range(3)]
    started = editor.post(f"{base}/uploads", {"name": names}).json()
    session_id = started["session"]
    for index in (0, 2):  # the tab closes before doc-001 is sent
        response = editor.post(
            f"{base}/upload",
            {"session": session_id, "index": index, "file": _file(names[index], f"text {index}")},
        )
        assert response.status_code == 200 and response.json()["id"].startswith("file-")
    # Both files are in the store at once: nothing waits for the last upload.
    assert VectorStoreFile.objects.filter(store_id=store).count() == 2
    UploadSession.objects.filter(pk=session_id).update(updated_at=timezone.now() - timedelta(hours=1))
    session = _wait_done(session_id)
    assert session.status == "incomplete"
    view = uploads.view(session)
    assert (
        view["arrived"] == 2 and view["not_arrived"] == ["doc-001.txt"] and view["counts"]["completed"] == 2
    )
    page = client_for(people.viewer).get(base).content.decode()
    assert "2 of 3 arrived" in page and "doc-001.txt" in page and "1 file did not arrive" in page
    assert AuditLog.objects.filter(action="vector_store_file.create", object_type="vector_store").count() == 2


def test_it_completes_a_session_whose_files_all_arrived(people, owner, api, worker):
    store = api.post("vector_stores").json()["id"]
    editor = client_for(people.editor)
    base = f"/p/{owner.project.pk}/vector_stores/{store}"
    session_id = editor.post(f"{base}/uploads", {"name": ["a.txt"]}).json()["session"]
    assert client_for(people.viewer).post(f"{base}/uploads", {"name": ["x"]}).status_code == 403
    assert (
        editor.post(
            f"{base}/upload", {"session": session_id, "index": 5, "file": _file("b.txt", "b")}
        ).status_code
        == 400
    )
    editor.post(f"{base}/upload", {"session": session_id, "index": 0, "file": _file("a.txt", "hello")})
    assert _wait_done(session_id).status == "completed"
    partial = htmx(
        client_for(people.viewer), "get", f"/p/{owner.project.pk}/uploads/{session_id}"
    ).content.decode()
    assert "1 of 1 arrived" in partial and "every 2s" not in partial and "<html" not in partial


def _file(name: str, text: str):  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, text.encode(), content_type="text/plain")
