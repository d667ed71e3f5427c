"""Vector store pages and batch uploads, with progress recorded by the Celery watch task."""

from __future__ import annotations

import time

from django.core.files.uploadedfile import SimpleUploadedFile

from console.web.models import AuditLog, BatchWatch
from tests.web.conftest import client_for, htmx


def _wait_done(batch_id: str, timeout: float = 30) -> BatchWatch:
    deadline = time.monotonic() + timeout
    while True:
        watch = BatchWatch.objects.get(batch_id=batch_id)
        if watch.is_done or time.monotonic() > deadline:
            return watch
        time.sleep(0.2)


def test_it_creates_renames_and_deletes_a_store(people, owner, api):
    url = f"/p/{owner.project.pk}/vector_stores"
    assert b"No vector stores yet" in client_for(people.viewer).get(url).content
    assert client_for(people.viewer).post(url, {"name": "Docs"}).status_code == 403
    response = htmx(client_for(people.editor), "post", url, {"name": "Docs"})
    store = api.get("vector_stores").json()["data"][0]
    assert response["HX-Redirect"].endswith(store["id"]) and store["name"] == "Docs"
    renamed = htmx(client_for(people.editor), "post", f"{url}/{store['id']}", {"name": "Manuals"})
    assert (
        renamed.status_code == 200
        and "<html" not in renamed.content.decode()
        and "Saved." in renamed.content.decode()
    )
    assert api.get(f"vector_stores/{store['id']}").json()["name"] == "Manuals"
    assert client_for(people.editor).post(f"{url}/{store['id']}/delete").status_code == 403
    assert client_for(people.admin).post(f"{url}/{store['id']}/delete").status_code == 302
    assert api.get(f"vector_stores/{store['id']}").status_code == 404
    assert {e.action for e in AuditLog.objects.all()} >= {
        "vector_store.create",
        "vector_store.update",
        "vector_store.delete",
    }


def test_it_uploads_a_batch_and_watches_it_complete(people, owner, api, worker):
    store = api.post("vector_stores", json={"name": "Batch"}).json()
    base = f"/p/{owner.project.pk}/vector_stores/{store['id']}"
    editor = client_for(people.editor)
    ids = []
    for i in range(3):
        r = editor.post(
            f"{base}/upload",
            {"file": SimpleUploadedFile(f"doc{i}.txt", f"Document number {i} about tea.".encode())},
        )
        assert r.status_code == 200
        ids.append(r.json()["id"])
    assert client_for(people.viewer).post(f"{base}/batches", {"file_id": ids}).status_code == 403
    response = htmx(editor, "post", f"{base}/batches", {"file_id": ids})
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in response.content.decode()
    watch = BatchWatch.objects.get()
    done = _wait_done(watch.batch_id)
    assert done.status == "completed" and done.completed == 3 and done.total == 3
    poll = htmx(
        client_for(people.viewer), "get", f"/p/{owner.project.pk}/batches/{watch.batch_id}"
    ).content.decode()
    assert "3 completed" in poll and "every 1s" not in poll and "<html" not in poll
    page = client_for(people.viewer).get(base).content.decode()
    assert "doc0.txt" in page and "completed" in page


def test_it_keeps_stores_of_other_projects_hidden(people, owner, outsider, live_url):
    import httpx

    other = httpx.post(
        f"{live_url}/v1/vector_stores",
        json={"name": "Theirs"},
        headers={"Authorization": f"Bearer {outsider.key}", "OpenAI-Beta": "assistants=v2"},
    ).json()
    assert (
        client_for(people.admin).get(f"/p/{owner.project.pk}/vector_stores/{other['id']}").status_code == 404
    )


def test_it_lists_jobs_and_polls_only_while_one_runs(people, owner):
    from console.web.models import BatchWatch

    BatchWatch.objects.create(
        project=owner.project,
        vector_store_id="vs_1",
        batch_id="vsfb_done",
        status="completed",
        completed=2,
        total=2,
        created_by="eddie-editor",
    )
    client = client_for(people.viewer)
    page = client.get(f"/p/{owner.project.pk}/jobs").content.decode()
    assert "vsfb_done" in page and "every 2s" not in page
    BatchWatch.objects.create(
        project=owner.project, vector_store_id="vs_1", batch_id="vsfb_live", total=5, in_progress=5
    )
    partial = htmx(client, "get", f"/p/{owner.project.pk}/jobs").content.decode()
    assert "vsfb_live" in partial and "every 2s" in partial and "<html" not in partial
