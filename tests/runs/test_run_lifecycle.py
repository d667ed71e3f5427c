from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from django.utils import timezone

from console.runs.models import Run, RunStep
from console.runs.services import reap_runs
from console.threads.models import Message
from tests.fakeprovider import Call, Drop, Error, Text, ToolCalls
from tests.runs.helpers import collapse, names, new_assistant, new_thread, read_events, wait_for_status
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
SLOW = Text("one two three four five six seven eight nine ten " * 4, delay=0.05)


def test_it_cancels_promptly_mid_stream(api, provider):
    provider.script(SLOW)
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    with api.stream(
        "POST", f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as r:
        events = []
        lines = r.iter_lines()
        for line in lines:
            if line == "event: thread.message.delta":
                break
        run_id = Run.objects.get(thread_id=thread_id).pk
        cancelling = api.post(f"threads/{thread_id}/runs/{run_id}/cancel").json()
        assert cancelling["status"] == "cancelling"
        rest = "\n".join(lines)
    assert "event: thread.run.cancelled" in rest and rest.rstrip().endswith("data: [DONE]")
    run = Run.objects.get(pk=run_id)
    assert run.status == "cancelled" and run.cancelled_at is not None
    message = Message.objects.get(run_id=run_id)
    assert message.status == "incomplete" and message.incomplete_details == {"reason": "run_cancelled"}
    # Cut short: the stream stopped at the cancel, long before the provider's last token.
    assert message.content[0]["text"]["value"].startswith("one")
    assert len(message.content[0]["text"]["value"].split()) < len(SLOW.text.split())
    assert RunStep.objects.get(run_id=run_id).status == "cancelled"
    del events


def test_it_cancels_a_run_waiting_for_tool_outputs(api, provider):
    provider.script(ToolCalls([Call("f", "{}")]))
    assistant_id = new_assistant(api, tools=[{"type": "function", "function": {"name": "f"}}])
    thread_id = new_thread(api)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    wait_for_status(api, thread_id, run["id"], {"requires_action"})
    cancelled = api.post(f"threads/{thread_id}/runs/{run['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert RunStep.objects.get(run_id=run["id"]).status == "cancelled"
    again = api.post(f"threads/{thread_id}/runs/{run['id']}/cancel")
    assert again.status_code == 400 and "cancelled" in again.json()["error"]["message"]


def test_it_allows_one_active_run_per_thread(api, provider):
    provider.script(SLOW)
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    first = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    second = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id})
    assert second.status_code == 400
    assert second.json()["error"]["message"] == f"Thread {thread_id} already has an active run {first['id']}."
    message = api.post(f"threads/{thread_id}/messages", json={"role": "user", "content": "more"})
    assert message.status_code == 400
    assert (
        message.json()["error"]["message"]
        == f"Can't add messages to {thread_id} while a run {first['id']} is active."
    )
    api.post(f"threads/{thread_id}/runs/{first['id']}/cancel")
    wait_for_status(api, thread_id, first["id"], {"cancelled"})
    assert Run.objects.filter(thread_id=thread_id).count() == 1


def test_it_retries_rate_limits_and_server_errors(api, provider):
    provider.script(Error(429, "slow down"), Error(503, "busy"), Text("Recovered."))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    done = wait_for_status(api, thread_id, run["id"], {"completed", "failed"})
    assert done["status"] == "completed"
    assert len(provider.requests) == 3


@pytest.mark.parametrize(
    ("reply", "code", "fragment"),
    [
        (Error(500, "model exploded", times=4), "server_error", "model exploded"),
        (Error(429, "quota", times=4), "rate_limit_exceeded", "quota"),
        (Error(400, "context too long"), "invalid_prompt", "context too long"),
        (Drop(after_chunks=2), "server_error", "mid-stream"),
    ],
)
def test_it_fails_alone_with_a_readable_last_error(api, provider, reply, code, fragment):
    provider.script(reply)
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    with api.stream(
        "POST", f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as r:
        events = read_events(r)
    assert names(events)[-2:] == ["thread.run.failed", "done"]
    failed = dict(events)["thread.run.failed"]
    assert failed["last_error"]["code"] == code
    assert fragment in failed["last_error"]["message"]
    assert failed["failed_at"] is not None
    run = Run.objects.get(pk=failed["id"])
    assert run.status == "failed"
    for message in Message.objects.filter(run_id=run.pk):
        assert message.status == "incomplete" and message.incomplete_details == {"reason": "run_failed"}


def test_it_fails_clearly_without_a_provider(api, provider, settings):
    settings.LLM_BASE_URL = ""
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    failed = wait_for_status(api, thread_id, run["id"], {"failed"})
    assert "LLM_BASE_URL" in failed["last_error"]["message"]


def test_it_truncates_to_the_last_messages(api, provider):
    provider.script(Text("ok"))
    assistant_id = new_assistant(api)
    thread = api.post(
        "threads", json={"messages": [{"role": "user", "content": f"message {i}"} for i in range(5)]}
    ).json()
    run = api.post(
        f"threads/{thread['id']}/runs",
        json={
            "assistant_id": assistant_id,
            "truncation_strategy": {"type": "last_messages", "last_messages": 2},
        },
    ).json()
    wait_for_status(api, thread["id"], run["id"], {"completed"})
    sent = provider.requests[-1]["messages"]
    assert [m["content"] for m in sent] == ["You are terse.", "message 3", "message 4"]


def test_it_drops_old_history_to_fit_max_prompt_tokens(api, provider):
    provider.script(Text("ok"))
    assistant_id = new_assistant(api)
    long = "word " * 400
    thread = api.post(
        "threads",
        json={"messages": [{"role": "user", "content": long}, {"role": "user", "content": "short question"}]},
    ).json()
    run = api.post(
        f"threads/{thread['id']}/runs", json={"assistant_id": assistant_id, "max_prompt_tokens": 256}
    ).json()
    wait_for_status(api, thread["id"], run["id"], {"completed"})
    assert [m["content"] for m in provider.requests[-1]["messages"]] == ["You are terse.", "short question"]


def test_it_ends_incomplete_when_the_prompt_cannot_fit(api, provider):
    assistant_id = new_assistant(api)
    thread_id = new_thread(api, "word " * 600)
    run = api.post(
        f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "max_prompt_tokens": 256}
    ).json()
    done = wait_for_status(api, thread_id, run["id"], {"incomplete", "completed", "failed"})
    assert done["status"] == "incomplete"
    assert done["incomplete_details"] == {"reason": "max_prompt_tokens"}
    assert provider.requests == []


def test_it_ends_incomplete_at_max_completion_tokens(api, provider):
    provider.script(Text("cut off here", finish_reason="length"))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    run = api.post(
        f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "max_completion_tokens": 300}
    ).json()
    done = wait_for_status(api, thread_id, run["id"], {"incomplete", "completed", "failed"})
    assert done["status"] == "incomplete"
    assert done["incomplete_details"] == {"reason": "max_completion_tokens"}
    assert provider.requests[-1]["max_completion_tokens"] == 300
    message = Message.objects.get(run_id=run["id"])
    assert message.status == "incomplete" and message.incomplete_details == {"reason": "max_tokens"}


def test_it_expires_runs_left_waiting(api, provider):
    provider.script(ToolCalls([Call("f", "{}")]))
    assistant_id = new_assistant(api, tools=[{"type": "function", "function": {"name": "f"}}])
    thread_id = new_thread(api)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    assert run["expires_at"] - run["created_at"] == 600
    wait_for_status(api, thread_id, run["id"], {"requires_action"})
    Run.objects.filter(pk=run["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert reap_runs()["expired"] == 1
    expired = api.get(f"threads/{thread_id}/runs/{run['id']}").json()
    assert expired["status"] == "expired" and expired["required_action"] is None
    assert RunStep.objects.get(run_id=run["id"]).status == "expired"
    with api.stream("GET", f"threads/{thread_id}/runs/{run['id']}/events") as r:
        assert names(read_events(r))[-2:] == ["thread.run.expired", "done"]


def _database_url() -> str:
    """The test database, as a URL another process can use."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + db["NAME"]))


def test_it_fails_a_run_whose_worker_died(api, provider, redis_url, settings):
    """A real worker process is killed mid-stream; the reaper ends the run within the heartbeat bound."""
    provider.script(Text("a b c d e f g h i j k l m n o p q r s t u v w x y z " * 4, delay=0.05))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    # Created directly, so that the test's own worker does not take it.
    from console.projects.models import Project

    run = Run.objects.create(
        project=Project.objects.get(name="owner-project"),
        thread_id=thread_id,
        assistant_id=assistant_id,
        model="fake-model",
        instructions="",
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "LLM_BASE_URL": provider.base_url,
        "LLM_API_KEY": "test-provider-key",
        "RUN_HEARTBEAT_SECONDS": "0.2",
        "VAR_DIR": str(settings.VAR_DIR),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from console.engine.executor import execute; execute('{run.pk}')",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "console.settings"},
    )
    try:
        wait_until(lambda: Message.objects.filter(run_id=run.pk).exists(), what="the worker streaming")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert Run.objects.get(pk=run.pk).status == "in_progress"
    # Any heartbeat older than now is stale: the killed worker's last one certainly is.
    settings.RUN_HEARTBEAT_TIMEOUT = 0
    assert reap_runs()["dead"] == 1
    failed = Run.objects.get(pk=run.pk)
    assert failed.status == "failed"
    assert failed.last_error["code"] == "server_error"
    assert "stopped responding" in failed.last_error["message"]
    assert Message.objects.get(run_id=run.pk).status == "incomplete"


def test_it_creates_a_thread_and_runs_it(api, provider):
    provider.script(Text("Hi!"))
    assistant_id = new_assistant(api)
    with api.stream(
        "POST",
        "threads/runs",
        json={
            "assistant_id": assistant_id,
            "thread": {"messages": [{"role": "user", "content": "Hello"}], "metadata": {"k": "v"}},
            "metadata": {"run": "1"},
            "stream": True,
        },
    ) as r:
        events = read_events(r)
    assert collapse(names(events))[:3] == ["thread.created", "thread.run.created", "thread.run.queued"]
    thread = dict(events)["thread.created"]
    assert thread["metadata"] == {"k": "v"}
    run = dict(events)["thread.run.completed"]
    assert run["thread_id"] == thread["id"] and run["metadata"] == {"run": "1"}

    missing = api.post("threads/runs", json={"assistant_id": "asst_missing"})
    assert missing.status_code == 404


def test_it_lists_retrieves_and_modifies_runs(api, provider):
    provider.script(Text("a"), Text("b"))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    ids = []
    for _ in range(2):
        run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
        wait_for_status(api, thread_id, run["id"], {"completed"})
        ids.append(run["id"])
    listed = api.get(f"threads/{thread_id}/runs").json()
    assert [r["id"] for r in listed["data"]] == list(reversed(ids))
    modified = api.post(f"threads/{thread_id}/runs/{ids[0]}", json={"metadata": {"reviewed": "yes"}}).json()
    assert modified["metadata"] == {"reviewed": "yes"}
    assert api.get(f"threads/{thread_id}/runs/run_missing").status_code == 404
    only_first = api.get(f"threads/{thread_id}/messages", params={"run_id": ids[0]}).json()["data"]
    assert [m["content"][0]["text"]["value"] for m in only_first] == ["a"]


def test_it_replays_every_event_to_late_readers(api, provider):
    provider.script(ToolCalls([Call("f", "{}")]), Text("finished"))
    assistant_id = new_assistant(api, tools=[{"type": "function", "function": {"name": "f"}}])
    thread_id = new_thread(api)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    waiting = wait_for_status(api, thread_id, run["id"], {"requires_action"})
    call_id = waiting["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    api.post(
        f"threads/{thread_id}/runs/{run['id']}/submit_tool_outputs",
        json={"tool_outputs": [{"tool_call_id": call_id, "output": "42"}]},
    )
    wait_for_status(api, thread_id, run["id"], {"completed"})
    with api.stream("GET", f"threads/{thread_id}/runs/{run['id']}/events") as r:
        sequence = collapse(names(read_events(r)))
    assert sequence[0] == "thread.run.created"
    assert "thread.run.requires_action" in sequence
    assert sequence[-2:] == ["thread.run.completed", "done"]


def test_it_validates_run_parameters(api, provider):
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    for body, param in [
        ({}, "assistant_id"),
        ({"assistant_id": assistant_id, "max_prompt_tokens": 100}, "max_prompt_tokens"),
        (
            {"assistant_id": assistant_id, "truncation_strategy": {"type": "first"}},
            "truncation_strategy.type",
        ),
        ({"assistant_id": assistant_id, "tool_choice": "sometimes"}, "tool_choice"),
        ({"assistant_id": assistant_id, "temperature": 3}, "temperature"),
        ({"assistant_id": assistant_id, "surprise": True}, "surprise"),
    ]:
        r = api.post(f"threads/{thread_id}/runs", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["param"] == param, (body, r.json())
    assert api.post(f"threads/{thread_id}/runs", json={"assistant_id": "asst_missing"}).status_code == 404
    bad_include = api.post(
        f"threads/{thread_id}/runs?include[]=everything", json={"assistant_id": assistant_id}
    )
    assert bad_include.status_code == 400
    assert not Run.objects.exists()


def test_it_enqueues_again_a_queued_run_whose_task_vanished(api, provider):
    """Say Redis lost its queue: the reaper finds the queued run in the database and enqueues it again."""
    provider.script(Text("Recovered."))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    from console.projects.models import Project

    # Created directly: no task was ever sent for it.
    run = Run.objects.create(
        project=Project.objects.get(name="owner-project"),
        thread_id=thread_id,
        assistant_id=assistant_id,
        model="fake-model",
        instructions="",
        truncation_strategy={"type": "auto", "last_messages": None},
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    assert reap_runs()["requeued"] == 0  # not lost yet: it was queued just now
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    assert reap_runs()["requeued"] == 1
    done = wait_for_status(api, thread_id, run.pk, {"completed", "failed"})
    assert done["status"] == "completed", done
    assert Message.objects.get(run_id=run.pk).content[0]["text"]["value"] == "Recovered."
    assert reap_runs()["requeued"] == 0
