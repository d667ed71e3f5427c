"""Activity: every live run and batch of the project, whoever started it, with cancel and run again."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from console.runs.models import Run
from console.web.models import AuditLog, RunWatch
from tests.web.conftest import client_for, htmx


def _url(owner, suffix=""):  # type: ignore[no-untyped-def]
    return f"/p/{owner.project.pk}/activity{suffix}"


def _run(owner, thread_id: str, assistant_id: str, status: str, **fields):  # type: ignore[no-untyped-def]
    return Run.objects.create(
        project=owner.project,
        thread_id=thread_id,
        assistant_id=assistant_id,
        model="gpt-4o",
        status=status,
        **fields,
    )


def test_it_lists_live_runs_started_through_the_api_and_filters_them(people, owner, api):
    bot = api.post("assistants", json={"model": "gpt-4o", "name": "Support bot"}).json()
    other = api.post("assistants", json={"model": "gpt-4o", "name": "Sales bot"}).json()
    stuck = _run(owner, api.post("threads").json()["id"], bot["id"], "requires_action")
    queued = _run(owner, api.post("threads").json()["id"], other["id"], "queued")
    done = _run(owner, api.post("threads").json()["id"], bot["id"], "completed")
    page = client_for(people.viewer).get(_url(owner)).content.decode()
    assert stuck.id in page and queued.id in page and done.id not in page
    assert "Support bot" in page and 'class="attention"' in page and 'hx-trigger="every 3s"' in page
    assert "Cancel</button>" not in page  # viewers cannot cancel
    only = htmx(client_for(people.viewer), "get", _url(owner), {"assistant": other["id"]}).content.decode()
    assert queued.id in only and stuck.id not in only and "<html" not in only
    by_status = htmx(
        client_for(people.viewer), "get", _url(owner), {"status": "requires_action"}
    ).content.decode()
    assert stuck.id in by_status and queued.id not in by_status


def test_it_cancels_a_run_it_did_not_start(people, owner, api):
    assistant = api.post("assistants", json={"model": "gpt-4o"}).json()
    thread = api.post("threads").json()
    stuck = _run(owner, thread["id"], assistant["id"], "requires_action")
    url = _url(owner, f"/{thread['id']}/{stuck.id}/cancel")
    assert client_for(people.viewer).post(url).status_code == 403
    response = htmx(client_for(people.editor), "post", url)
    assert response.status_code == 200 and "<html" not in response.content.decode()
    assert Run.objects.get(pk=stuck.id).status in ("cancelling", "cancelled")
    assert AuditLog.objects.filter(action="run.cancel", object_id=stuck.id, username="eddie-editor").exists()


def test_it_runs_a_failed_run_again_with_the_same_settings(people, owner, api):
    assistant = api.post("assistants", json={"model": "gpt-4o", "instructions": "Be brief."}).json()
    thread = api.post("threads", json={"messages": [{"role": "user", "content": "Hi"}]}).json()
    failed = _run(
        owner,
        thread["id"],
        assistant["id"],
        "failed",
        instructions="Answer in French.",
        temperature=0.3,
        last_error={"code": "rate_limit_exceeded", "message": "Slow down."},
        failed_at=timezone.now(),
    )
    old = _run(
        owner,
        api.post("threads").json()["id"],
        assistant["id"],
        "failed",
        last_error={"code": "server_error", "message": "Long ago."},
    )
    Run.objects.filter(pk=old.id).update(created_at=timezone.now() - timedelta(days=2))
    page = client_for(people.editor).get(_url(owner)).content.decode()
    assert "rate_limit_exceeded: Slow down." in page and "Run again</button>" in page and old.id not in page
    response = htmx(client_for(people.editor), "post", _url(owner, f"/{thread['id']}/{failed.id}/rerun"))
    assert response.status_code == 200, re.findall(r"Could not[^<]*", response.content.decode())
    again = Run.objects.filter(thread_id=thread["id"]).exclude(pk=failed.id).get()
    assert again.assistant_id == assistant["id"] and again.instructions == "Answer in French."
    assert again.temperature == 0.3
    assert RunWatch.objects.get(run_id=again.id).retry_of == failed.id
    assert AuditLog.objects.filter(action="run.rerun", object_id=again.id).exists()
