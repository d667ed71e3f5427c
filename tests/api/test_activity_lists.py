"""Extensions for the console's Activity and Cleanup pages (raw HTTP): GET /v1/runs, GET /v1/file_batches,
GET /v1/files?unattached=true, GET /v1/vector_stores?unused=true, GET /v1/usage?group_by=model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.runs.models import Run
from console.vector_stores.models import FileBatch, VectorStoreFile


def _run(owner, thread_id: str, status: str, assistant_id: str = "asst_a", **fields):  # type: ignore[no-untyped-def]
    return Run.objects.create(
        project=owner.project,
        thread_id=thread_id,
        assistant_id=assistant_id,
        model="m",
        status=status,
        **fields,
    ).id


def test_it_lists_the_projects_runs_by_status_assistant_and_time(api, outsider_api, owner):
    a, b = api.post("threads").json()["id"], api.post("threads").json()["id"]
    live = _run(owner, a, "in_progress")
    waiting = _run(owner, b, "requires_action", assistant_id="asst_b")
    failed = _run(owner, a, "failed", created_at=datetime.now(UTC) - timedelta(days=2))
    r = api.get("runs", params={"status": "queued,in_progress,requires_action"})
    assert r.status_code == 200 and [x["id"] for x in r.json()["data"]] == [waiting, live]
    assert r.json()["data"][0]["object"] == "thread.run"
    assert [x["id"] for x in api.get("runs", params={"status": ["failed"]}).json()["data"]] == [failed]
    assert [x["id"] for x in api.get("runs", params={"assistant_id": "asst_b"}).json()["data"]] == [waiting]
    since = int((datetime.now(UTC) - timedelta(days=1)).timestamp())
    assert {x["id"] for x in api.get("runs", params={"created_after": since}).json()["data"]} == {
        live,
        waiting,
    }
    assert outsider_api.get("runs").json()["data"] == []
    bad = api.get("runs", params={"status": "sleeping"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "status"


def test_it_lists_file_batches_in_progress(api):
    file_id = api.post("files", files={"file": ("a.txt", b"a")}, data={"purpose": "assistants"}).json()["id"]
    store = api.post("vector_stores").json()["id"]
    batch = FileBatch.objects.create(store_id=store)
    VectorStoreFile.objects.create(store_id=store, file_id=file_id, batch=batch, status="in_progress")
    done = FileBatch.objects.create(store_id=store)
    listed = api.get("file_batches", params={"status": "in_progress"}).json()["data"]
    assert [b["id"] for b in listed] == [batch.id] and listed[0]["file_counts"]["in_progress"] == 1
    assert {b["id"] for b in api.get("file_batches").json()["data"]} == {batch.id, done.id}
    assert api.get("file_batches", params={"status": "done"}).status_code == 400


def test_it_lists_unattached_files_and_unused_vector_stores(api):
    def upload(name: str) -> str:
        return str(
            api.post("files", files={"file": (name, b"x")}, data={"purpose": "assistants"}).json()["id"]
        )

    loose, attached, in_message = upload("loose.txt"), upload("attached.txt"), upload("msg.txt")
    used = api.post("vector_stores", json={"file_ids": [attached]}).json()["id"]
    unused = api.post("vector_stores").json()["id"]
    api.post(
        "threads",
        json={
            "tool_resources": {"file_search": {"vector_store_ids": [used]}},
            "messages": [
                {
                    "role": "user",
                    "content": "see file",
                    "attachments": [{"file_id": in_message, "tools": [{"type": "code_interpreter"}]}],
                }
            ],
        },
    )
    assert [f["id"] for f in api.get("files", params={"unattached": "true"}).json()["data"]] == [loose]
    assert [s["id"] for s in api.get("vector_stores", params={"unused": "true"}).json()["data"]] == [unused]
    assert api.get("files", params={"unattached": "maybe"}).json()["error"]["param"] == "unattached"


def test_it_splits_daily_usage_by_model(api, owner):
    thread = api.post("threads").json()["id"]
    _run(owner, thread, "completed", usage={"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12})
    Run.objects.create(
        project=owner.project,
        thread_id=thread,
        assistant_id="a",
        model="other",
        status="completed",
        usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    )
    today = api.get("usage", params={"days": 1, "group_by": "model"}).json()["data"][-1]
    assert today["total_tokens"] == 14 and today["models"]["m"]["prompt_tokens"] == 10
    assert today["models"]["other"] == {
        "runs": 1,
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "total_tokens": 2,
    }
    assert "models" not in api.get("usage", params={"days": 1}).json()["data"][-1]
    assert api.get("usage", params={"group_by": "day"}).status_code == 400
