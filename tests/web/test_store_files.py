"""A store's failed files: listed first with their reason in plain words, then retried, removed or replaced."""

from __future__ import annotations

from console.vector_stores.models import VectorStoreFile
from console.web.models import AuditLog
from tests.web.conftest import client_for, htmx


def _failed_file(api, store: str, name: str) -> str:  # type: ignore[no-untyped-def]
    file_id = api.post(
        "files", files={"file": (name, b"%PDF-1.4 broken")}, data={"purpose": "assistants"}
    ).json()["id"]
    api.post(f"vector_stores/{store}/files", json={"file_id": file_id})
    VectorStoreFile.objects.filter(file_id=file_id).update(
        status="failed", last_error={"code": "invalid_file", "message": "Could not parse the PDF."}
    )
    return file_id


def test_it_lists_failed_files_first_with_a_plain_reason(people, owner, api):
    store = api.post("vector_stores", json={"name": "Manuals"}).json()["id"]
    broken = _failed_file(api, store, "broken.pdf")
    page = client_for(people.viewer).get(f"/p/{owner.project.pk}/vector_stores/{store}").content.decode()
    assert page.index("could not be read") < page.index('id="h-files"')
    assert "broken.pdf" in page and "The file could not be read; it may be damaged" in page
    assert "invalid_file: Could not parse the PDF." in page  # behind the details toggle
    assert f'id="failed-file-{broken}"' in page and "Remove from store" not in page  # viewers read only
    live = htmx(
        client_for(people.viewer), "get", f"/p/{owner.project.pk}/vector_stores/{store}", {"live": "1"}
    )
    body = live.content.decode()
    assert body.lstrip().startswith('<div id="store-live"') and "<html" not in body
    assert "1 total" in body and "1 failed" in body


def test_it_retries_removes_and_replaces_a_failed_file(people, owner, api):
    store = api.post("vector_stores", json={"name": "Manuals"}).json()["id"]
    editor = client_for(people.editor)
    url = f"/p/{owner.project.pk}/vector_stores/{store}/files"
    assert client_for(people.viewer).post(f"{url}/file-x", {"action": "retry"}).status_code == 403

    retried = _failed_file(api, store, "a.pdf")
    response = htmx(editor, "post", f"{url}/{retried}", {"action": "retry"})
    assert response.status_code == 200 and "store-changed" in response["HX-Trigger"]
    row = VectorStoreFile.objects.get(file_id=retried)
    assert row.status in ("in_progress", "completed", "failed")
    # Sent again: the old reason is gone (a worker may already have read it again and failed it anew).
    assert row.last_error != {"code": "invalid_file", "message": "Could not parse the PDF."}

    removed = _failed_file(api, store, "b.pdf")
    htmx(editor, "post", f"{url}/{removed}", {"action": "remove"})
    assert not VectorStoreFile.objects.filter(file_id=removed).exists()
    assert api.get(f"files/{removed}").status_code == 200  # the file itself stays

    replaced = _failed_file(api, store, "c.pdf")
    from django.core.files.uploadedfile import SimpleUploadedFile

    fixed = SimpleUploadedFile("c-fixed.txt", b"The fixed manual.", content_type="text/plain")
    htmx(editor, "post", f"{url}/{replaced}", {"action": "replace", "file": fixed})
    names = [
        api.get(f"files/{f['id']}").json()["filename"]
        for f in api.get(f"vector_stores/{store}/files").json()["data"]
    ]
    assert "c-fixed.txt" in names and not VectorStoreFile.objects.filter(file_id=replaced).exists()
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"vector_store_file.retry", "vector_store_file.remove", "vector_store_file.replace"} <= actions


def test_it_flags_files_already_in_the_store_by_name_and_content(people, owner, api):
    import hashlib

    store = api.post("vector_stores", json={"name": "Manuals"}).json()["id"]
    for name, body in (("a.txt", b"alpha"), ("b.txt", b"beta")):
        file_id = api.post("files", files={"file": (name, body)}, data={"purpose": "assistants"}).json()["id"]
        api.post(f"vector_stores/{store}/files", json={"file_id": file_id})
    url = f"/p/{owner.project.pk}/vector_stores/{store}/uploads/check"
    same = hashlib.sha256(b"alpha").hexdigest()
    other = hashlib.sha256(b"BETA").hexdigest()  # same name and size, other content
    chosen = {"name": ["a.txt", "b.txt", "c.txt"], "size": ["5", "4", "3"], "sha256": [same, other, ""]}
    assert client_for(people.viewer).post(url, chosen).status_code == 403
    assert client_for(people.editor).post(url, chosen).json() == {"duplicates": [0]}
    # Without hashes (a browser on an insecure origin), name and size decide.
    unhashed = {**chosen, "sha256": ["", "", ""]}
    assert client_for(people.editor).post(url, unhashed).json() == {"duplicates": [0, 1]}
