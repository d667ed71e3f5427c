"""Cleanup: retention (set by admins, applied by beat), bulk thread deletion with a dry run, orphans; all audited."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from console.files.models import File
from console.threads.models import Thread
from console.vector_stores.models import VectorStore
from console.web.models import AuditLog, ProjectSettings
from console.web.tasks import apply_retention
from tests.web.conftest import client_for, htmx


def _url(owner, suffix=""):  # type: ignore[no-untyped-def]
    return f"/p/{owner.project.pk}/cleanup{suffix}"


def _age(thread_id: str, days: int) -> None:
    Thread.objects.filter(pk=thread_id).update(last_activity_at=timezone.now() - timedelta(days=days))


def test_it_lets_only_admins_set_retention_and_beat_applies_it(people, owner, api):
    old = api.post("threads", json={"messages": [{"role": "user", "content": "old"}]}).json()["id"]
    fresh = api.post("threads").json()["id"]
    _age(old, 40)
    assert client_for(people.editor).get(_url(owner)).status_code == 403
    assert (
        htmx(client_for(people.admin), "post", _url(owner, "/retention"), {"days": "abc"}).status_code == 422
    )
    response = htmx(client_for(people.admin), "post", _url(owner, "/retention"), {"days": "30"})
    assert response.status_code == 200 and "threads idle for 30 days" in response.content.decode()
    assert ProjectSettings.objects.get(project=owner.project).thread_retention_days == 30
    apply_retention()
    assert not Thread.objects.filter(pk=old).exists() and Thread.objects.filter(pk=fresh).exists()
    entry = AuditLog.objects.get(action="thread.delete", object_id=old)
    assert entry.username == "retention (beat)" and entry.detail["reason"] == "no activity for 30 days"
    assert AuditLog.objects.filter(action="retention.set", username="alice-admin").exists()


def test_it_counts_then_deletes_threads_by_filter(people, owner, api):
    idle = [api.post("threads", json={"metadata": {"env": "test"}}).json()["id"] for _ in range(3)]
    keep = api.post("threads", json={"metadata": {"env": "prod"}}).json()["id"]
    for thread_id in idle[:2]:
        _age(thread_id, 10)
    admin = client_for(people.admin)
    assert htmx(admin, "get", _url(owner, "/threads")).status_code == 422  # no filter: refused
    dry = htmx(
        admin, "get", _url(owner, "/threads"), {"idle_days": "7", "mk": "env", "mv": "test"}
    ).content.decode()
    assert "<b>2</b> threads match" in dry and "Delete 2 threads" in dry and idle[2] not in dry
    assert Thread.objects.filter(pk__in=idle).count() == 3  # a dry run deletes nothing
    done = htmx(
        admin, "post", _url(owner, "/threads"), {"idle_days": "7", "mk": "env", "mv": "test"}
    ).content.decode()
    assert "Deleted 2 threads." in done
    assert set(Thread.objects.values_list("pk", flat=True)) == {idle[2], keep}
    assert set(AuditLog.objects.filter(action="thread.delete").values_list("object_id", flat=True)) == set(
        idle[:2]
    )


def test_it_lists_and_deletes_orphan_files_and_unused_stores(people, owner, api):
    def upload(name: str) -> str:
        return str(
            api.post("files", files={"file": (name, b"x")}, data={"purpose": "assistants"}).json()["id"]
        )

    orphan, in_store, for_assistant = upload("orphan.txt"), upload("in-store.txt"), upload("code.csv")
    used_store = api.post("vector_stores", json={"name": "used", "file_ids": [in_store]}).json()["id"]
    unused_store = api.post("vector_stores", json={"name": "forgotten"}).json()["id"]
    api.post(
        "assistants",
        json={
            "model": "gpt-4o",
            "tools": [{"type": "code_interpreter"}, {"type": "file_search"}],
            "tool_resources": {
                "code_interpreter": {"file_ids": [for_assistant]},
                "file_search": {"vector_store_ids": [used_store]},
            },
        },
    )
    admin = client_for(people.admin)
    files = htmx(admin, "get", _url(owner, "/files")).content.decode()
    assert orphan in files and in_store not in files and for_assistant not in files
    stores = htmx(admin, "get", _url(owner, "/vector_stores")).content.decode()
    assert unused_store in stores and used_store not in stores
    after = htmx(admin, "post", _url(owner, "/files"), {"id": [orphan]}).content.decode()
    assert "Deleted 1 file." in after and "Every file is in use." in after
    htmx(admin, "post", _url(owner, "/vector_stores"), {"id": [unused_store]})
    assert not File.objects.filter(pk=orphan).exists() and File.objects.filter(pk=in_store).exists()
    assert (
        not VectorStore.objects.filter(pk=unused_store).exists()
        and VectorStore.objects.filter(pk=used_store).exists()
    )
    assert AuditLog.objects.filter(action="file.delete", object_id=orphan).exists()
    assert AuditLog.objects.filter(action="vector_store.delete", object_id=unused_store).exists()
