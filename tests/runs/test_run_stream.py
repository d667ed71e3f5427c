from __future__ import annotations

from console.runs.models import Run, RunStep
from console.threads.models import Message
from tests.fakeprovider import Text
from tests.runs.helpers import (
    TEXT_RUN,
    collapse,
    names,
    new_assistant,
    new_thread,
    read_events,
    wait_for_status,
)


def test_it_streams_a_text_run_in_openai_order(api, provider):
    provider.script(Text("Hello there, friend.", usage=(12, 4)))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    with api.stream(
        "POST", f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as r:
        assert r.status_code == 200
        events = read_events(r)
    assert collapse(names(events)) == TEXT_RUN
    assert events[-1] == ("done", "[DONE]")
    deltas = "".join(
        d["delta"]["content"][0]["text"]["value"] for n, d in events if n == "thread.message.delta"
    )
    assert deltas == "Hello there, friend."
    completed = dict(events)["thread.run.completed"]
    assert completed["status"] == "completed"
    assert completed["usage"] == {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}

    run = Run.objects.get(pk=completed["id"])
    assert run.status == "completed" and run.completed_at is not None
    message = Message.objects.get(run_id=run.pk)
    assert message.content[0]["text"]["value"] == "Hello there, friend."
    assert message.assistant_id == assistant_id and message.role == "assistant"
    step = RunStep.objects.get(run=run)
    assert step.type == "message_creation" and step.status == "completed"
    assert step.step_details["message_creation"]["message_id"] == message.pk
    assert step.usage == {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}

    sent = provider.requests[-1]
    assert sent["messages"][0] == {"role": "system", "content": "You are terse."}
    assert sent["messages"][-1] == {"role": "user", "content": "Hello?"}
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_it_runs_without_streaming(api, provider):
    provider.script(Text("Fine."))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    created = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    assert created["status"] == "queued"
    done = wait_for_status(api, thread_id, created["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    messages = api.get(f"threads/{thread_id}/messages").json()["data"]
    assert messages[0]["content"][0]["text"]["value"] == "Fine."
    assert messages[0]["run_id"] == created["id"]


def test_it_keeps_a_silent_stream_open(api, provider):
    """A reader waits through a long silence (a slow first token) without its stream breaking."""
    provider.script(Text("late", chunks=["late"], delay=6.5))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    with api.stream(
        "POST", f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as r:
        events = read_events(r)
    assert collapse(names(events)) == TEXT_RUN
