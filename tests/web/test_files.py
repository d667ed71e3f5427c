"""File pages: list by purpose, upload, download, delete."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from console.web.models import AuditLog
from tests.web.conftest import client_for, htmx


def test_it_uploads_lists_downloads_and_deletes(people, owner, api):
    url = f"/p/{owner.project.pk}/files"
    editor = client_for(people.editor)
    upload = [SimpleUploadedFile("notes.txt", b"hello files"), SimpleUploadedFile("more.md", b"# more")]
    response = htmx(editor, "post", url, {"file": upload, "purpose": "assistants"})
    assert response.status_code == 200 and "<html" not in response.content.decode()
    assert "notes.txt" in response.content.decode() and "more.md" in response.content.decode()
    stored = {f["filename"]: f for f in api.get("files").json()["data"]}
    assert set(stored) == {"notes.txt", "more.md"}
    assert AuditLog.objects.filter(action="file.upload").count() == 2

    assert "notes.txt" not in client_for(people.viewer).get(url, {"purpose": "vision"}).content.decode()
    download = client_for(people.viewer).get(f"{url}/{stored['notes.txt']['id']}/download")
    assert b"".join(download.streaming_content) == b"hello files"
    assert "notes.txt" in download["Content-Disposition"]

    assert client_for(people.editor).post(f"{url}/{stored['notes.txt']['id']}/delete").status_code == 403
    assert htmx(client_for(people.admin), "post", f"{url}/{stored['notes.txt']['id']}/delete").status_code == 200
    assert api.get(f"files/{stored['notes.txt']['id']}").status_code == 404


def test_it_keeps_viewers_from_uploading(people, owner, api):
    response = client_for(people.viewer).post(f"/p/{owner.project.pk}/files", {"file": SimpleUploadedFile("x.txt", b"x"),
                                                                               "purpose": "assistants"})
    assert response.status_code == 403
    assert api.get("files").json()["data"] == []
