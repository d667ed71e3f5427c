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
    assert (
        htmx(client_for(people.admin), "post", f"{url}/{stored['notes.txt']['id']}/delete").status_code == 200
    )
    assert api.get(f"files/{stored['notes.txt']['id']}").status_code == 404


def test_it_keeps_viewers_from_uploading(people, owner, api):
    response = client_for(people.viewer).post(
        f"/p/{owner.project.pk}/files", {"file": SimpleUploadedFile("x.txt", b"x"), "purpose": "assistants"}
    )
    assert response.status_code == 403
    assert api.get("files").json()["data"] == []


def test_it_shows_which_assistants_and_stores_use_a_file(people, owner, api, worker):
    file_id = api.post(
        "files", files={"file": ("guide.txt", b"a guide")}, data={"purpose": "assistants"}
    ).json()["id"]
    url = f"/p/{owner.project.pk}/files"
    viewer = client_for(people.viewer)
    listing = viewer.get(url).content.decode()
    assert f'hx-get="{url}/{file_id}/usage"' in listing and f'href="{url}/{file_id}/usage"' in listing
    assert "Not used by any assistant" in htmx(viewer, "get", f"{url}/{file_id}/usage").content.decode()

    store = api.post("vector_stores", json={"name": "Handbook", "file_ids": [file_id]}).json()
    coder = api.post(
        "assistants",
        json={
            "model": "gpt-4o",
            "name": "Coder",
            "tools": [{"type": "code_interpreter"}],
            "tool_resources": {"code_interpreter": {"file_ids": [file_id]}},
        },
    ).json()
    searcher = api.post(
        "assistants",
        json={
            "model": "gpt-4o",
            "name": "Searcher",
            "tools": [{"type": "file_search"}],
            "tool_resources": {"file_search": {"vector_store_ids": [store["id"]]}},
        },
    ).json()
    api.post("assistants", json={"model": "gpt-4o", "name": "Bystander"})
    partial = htmx(viewer, "get", f"{url}/{file_id}/usage").content.decode()
    assert "<html" not in partial and f'id="usage-{file_id}"' in partial
    assert (
        "Coder" in partial and "Searcher" in partial and "Handbook" in partial and "Bystander" not in partial
    )
    assert f"/assistants/{coder['id']}" in partial and f"/assistants/{searcher['id']}" in partial
    assert f"/vector_stores/{store['id']}" in partial
    full = viewer.get(f"{url}/{file_id}/usage").content.decode()
    assert "<html" in full and "guide.txt" in full and "Handbook" in full


def test_it_hides_file_usage_from_strangers(people, owner, api):
    file_id = api.post("files", files={"file": ("x.txt", b"x")}, data={"purpose": "assistants"}).json()["id"]
    assert client_for(people.stranger).get(f"/p/{owner.project.pk}/files/{file_id}/usage").status_code == 404
    assert client_for(people.viewer).get(f"/p/{owner.project.pk}/files/file-nope/usage").status_code == 404
