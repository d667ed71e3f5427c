"""Jobs: runs started from the playground are watched to their end, listed with failure reasons, and retried."""

from __future__ import annotations

import re
import time

from console.web.models import AuditLog, RunWatch
from tests.fakeprovider import Error, Text
from tests.web.conftest import client_for, htmx


def _wait_watch(run_id: str, timeout: float = 30) -> RunWatch:
    deadline = time.monotonic() + timeout
    while True:
        watch = RunWatch.objects.get(run_id=run_id)
        if watch.is_done or time.monotonic() > deadline:
            return watch
        time.sleep(0.1)


def _send(client, owner, assistant_id: str, text: str = "Hi") -> tuple[str, str]:  # type: ignore[no-untyped-def]
    body = htmx(
        client,
        "post",
        f"/p/{owner.project.pk}/playground/send",
        {"assistant_id": assistant_id, "content": text},
    ).content.decode()
    run_id = re.search(r'id="turn-(run_[^"]+)"', body).group(1)  # type: ignore[union-attr]
    thread_id = re.search(r'name="thread_id" value="(thread_[^"]+)"', body).group(1)  # type: ignore[union-attr]
    return thread_id, run_id


def test_it_watches_a_playground_run_to_completion(people, owner, api, provider):
    provider.script(Text("Done.", usage=(12, 3)))
    assistant = api.post("assistants", json={"model": "gpt-4o"}).json()
    thread_id, run_id = _send(client_for(people.editor), owner, assistant["id"])
    watch = _wait_watch(run_id)
    assert (
        watch.status == "completed" and watch.thread_id == thread_id and watch.assistant_id == assistant["id"]
    )
    assert watch.total_tokens == 15 and watch.finished_at is not None and watch.last_error == ""
    assert watch.created_by == "eddie-editor" and watch.model == "gpt-4o"
    page = client_for(people.viewer).get(f"/p/{owner.project.pk}/jobs").content.decode()
    assert run_id in page and "completed" in page and "every 2s" not in page
    assert f'href="/p/{owner.project.pk}/threads/{thread_id}#{run_id}"' in page
    assert "Retry</button>" not in page  # completed runs are not retried


def test_it_records_why_a_run_failed_and_retries_it(people, owner, api, provider):
    provider.script(Error(400, "The prompt is not allowed."), Text("Second time lucky.", usage=(5, 4)))
    assistant = api.post("assistants", json={"model": "gpt-4o"}).json()
    editor = client_for(people.editor)
    thread_id, run_id = _send(editor, owner, assistant["id"])
    failed = _wait_watch(run_id)
    assert failed.status == "failed" and "The prompt is not allowed." in failed.last_error

    viewer_page = client_for(people.viewer).get(f"/p/{owner.project.pk}/jobs").content.decode()
    assert "The prompt is not allowed." in viewer_page and "Retry</button>" not in viewer_page
    assert (
        client_for(people.viewer).post(f"/p/{owner.project.pk}/jobs/runs/{run_id}/retry").status_code == 403
    )

    editor_page = editor.get(f"/p/{owner.project.pk}/jobs").content.decode()
    assert "Retry</button>" in editor_page
    response = htmx(editor, "post", f"/p/{owner.project.pk}/jobs/runs/{run_id}/retry")
    assert response.status_code == 200 and "<html" not in response.content.decode()
    retry = RunWatch.objects.get(retry_of=run_id)
    assert retry.thread_id == thread_id and retry.assistant_id == assistant["id"]
    assert _wait_watch(retry.run_id).status == "completed"
    assert AuditLog.objects.filter(
        action="run.retry", object_id=retry.run_id, username="eddie-editor"
    ).exists()
    runs = api.get(f"threads/{thread_id}/runs").json()["data"]
    assert [r["id"] for r in runs] == [retry.run_id, run_id]
    page = editor.get(f"/p/{owner.project.pk}/jobs").content.decode()
    assert f"retry of {run_id}" in page


def test_it_shows_why_a_retry_was_refused(people, owner, api):
    RunWatch.objects.create(
        project=owner.project,
        thread_id="thread_gone",
        run_id="run_old",
        assistant_id="asst_x",
        status="failed",
        last_error="server_error: boom",
    )
    response = htmx(client_for(people.editor), "post", f"/p/{owner.project.pk}/jobs/runs/run_old/retry")
    assert response.status_code == 422
    assert "Could not retry the run." in response.content.decode()
    assert RunWatch.objects.count() == 1
    assert (
        client_for(people.editor).post(f"/p/{owner.project.pk}/jobs/runs/run_nope/retry").status_code == 404
    )


def test_it_polls_while_a_run_is_active_and_hides_other_projects(people, owner, outsider):
    RunWatch.objects.create(
        project=owner.project,
        thread_id="thread_a",
        run_id="run_live",
        assistant_id="asst_x",
        status="in_progress",
    )
    RunWatch.objects.create(
        project=outsider.project,
        thread_id="thread_b",
        run_id="run_theirs",
        assistant_id="asst_y",
        status="failed",
    )
    partial = htmx(client_for(people.viewer), "get", f"/p/{owner.project.pk}/jobs").content.decode()
    assert "run_live" in partial and "every 2s" in partial and "run_theirs" not in partial
    assert "<html" not in partial and "running for" in partial


def test_it_notes_a_run_that_vanished_upstream(people, owner, api, live_url):
    from console.web import run_watches

    watch = RunWatch.objects.create(
        project=owner.project,
        thread_id="thread_nope",
        run_id="run_nope",
        assistant_id="asst_x",
        status="queued",
    )
    watch = run_watches.refresh(watch)
    assert watch.status == "failed" and "No thread found" in watch.last_error and watch.finished_at


def test_it_states_failure_reasons_in_words():
    from console.web.run_watches import failure_reason

    assert (
        failure_reason(
            {"status": "failed", "last_error": {"code": "rate_limit_exceeded", "message": "Slow down."}}
        )
        == "rate_limit_exceeded: Slow down."
    )
    assert (
        failure_reason({"status": "incomplete", "incomplete_details": {"reason": "max_completion_tokens"}})
        == "Incomplete: max_completion_tokens"
    )
    assert failure_reason({"status": "expired"}) == "The run expired before it finished."
    assert failure_reason({"status": "completed"}) == ""
