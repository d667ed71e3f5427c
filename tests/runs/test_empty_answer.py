"""A completed run always has its message: an empty answer is asked for once more, then kept empty."""

from __future__ import annotations

from tests.fakeprovider import Text
from tests.runs.helpers import names, new_assistant, new_thread, read_events, wait_for_status


def _run(api, text: str = "Who is Sam?"):  # type: ignore[no-untyped-def]
    thread_id = new_thread(api, text)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": new_assistant(api)}).json()
    return thread_id, wait_for_status(api, thread_id, run["id"], {"completed", "failed", "incomplete"})


def _assistant_messages(api, thread_id: str) -> list[dict]:  # type: ignore[type-arg]
    return [m for m in api.get(f"threads/{thread_id}/messages").json()["data"] if m["role"] == "assistant"]


def test_it_asks_once_more_when_the_model_answers_nothing(api, provider):
    provider.script(Text(""), Text("Sam is a name."))
    thread_id, run = _run(api)
    assert run["status"] == "completed", run["last_error"]
    assert len(provider.requests) == 2
    assert provider.requests[0]["messages"] == provider.requests[1]["messages"]
    (message,) = _assistant_messages(api, thread_id)
    assert message["content"][0]["text"]["value"] == "Sam is a name."
    steps = api.get(f"threads/{thread_id}/runs/{run['id']}/steps").json()["data"]
    assert [s["type"] for s in steps] == ["message_creation"]


def test_it_keeps_an_empty_message_when_the_model_answers_nothing_twice(api, provider):
    provider.script(Text(""), Text(""))
    thread_id, run = _run(api)
    assert run["status"] == "completed", run["last_error"]
    assert len(provider.requests) == 2
    (message,) = _assistant_messages(api, thread_id)
    assert message["status"] == "completed" and message["run_id"] == run["id"]
    assert message["content"] == [{"type": "text", "text": {"value": "", "annotations": []}}]
    steps = api.get(f"threads/{thread_id}/runs/{run['id']}/steps").json()["data"]
    assert [(s["type"], s["status"]) for s in steps] == [("message_creation", "completed")]
    assert steps[0]["step_details"]["message_creation"]["message_id"] == message["id"]


def test_a_streamed_empty_answer_still_creates_and_completes_its_message(api, provider):
    provider.script(Text(""), Text(""))
    thread_id = new_thread(api)
    with api.stream(
        "POST", f"threads/{thread_id}/runs", json={"assistant_id": new_assistant(api), "stream": True}
    ) as response:
        events = read_events(response)
    sequence = names(events)
    assert "thread.message.created" in sequence and "thread.message.completed" in sequence
    assert "thread.message.delta" not in sequence
    assert sequence[-2:] == ["thread.run.completed", "done"]
