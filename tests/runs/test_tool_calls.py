from __future__ import annotations

import json

from console.runs.models import Run, RunStep
from tests.fakeprovider import Call, Text, ToolCalls
from tests.runs.helpers import (
    TEXT_RUN,
    collapse,
    names,
    new_assistant,
    new_thread,
    read_events,
    wait_for_status,
)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}


def test_it_parks_parallel_calls_in_requires_action_and_resumes(api, provider):
    provider.script(
        ToolCalls([Call("get_weather", '{"city": "Paris"}'), Call("get_time", "{}")], usage=(20, 10)),
        Text("It is sunny in Paris at noon.", usage=(40, 8)),
    )
    assistant_id = new_assistant(api, tools=[WEATHER, TIME])
    thread_id = new_thread(api, "Weather and time in Paris?")
    with api.stream(
        "POST", f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as r:
        events = read_events(r)
    assert collapse(names(events)) == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.requires_action",
        "done",
    ]
    run = dict(events)["thread.run.requires_action"]
    calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris"}
    assert all(c["id"].startswith("call_") for c in calls)
    # The worker is free while the run waits.
    assert Run.objects.get(pk=run["id"]).status == "requires_action"

    sent_tools = provider.requests[0]["tools"]
    assert [t["function"]["name"] for t in sent_tools] == ["get_weather", "get_time"]
    assert provider.requests[0]["parallel_tool_calls"] is True

    missing = api.post(
        f"threads/{thread_id}/runs/{run['id']}/submit_tool_outputs",
        json={"tool_outputs": [{"tool_call_id": calls[0]["id"], "output": "sunny"}]},
    )
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "tool_outputs"

    outputs = [
        {"tool_call_id": calls[0]["id"], "output": "sunny, 24C"},
        {"tool_call_id": calls[1]["id"], "output": "12:00"},
    ]
    with api.stream(
        "POST",
        f"threads/{thread_id}/runs/{run['id']}/submit_tool_outputs",
        json={"tool_outputs": outputs, "stream": True},
    ) as r:
        resumed = read_events(r)
    # The continuation's segment: the tool step closes, then the run goes on as a text run does.
    assert collapse(names(resumed)) == ["thread.run.step.completed", "thread.run.queued", *TEXT_RUN[2:]]
    finished = dict(resumed)["thread.run.completed"]
    assert finished["usage"] == {"prompt_tokens": 60, "completion_tokens": 18, "total_tokens": 78}

    # The continuation sent the calls and their outputs back to the model.
    history = provider.requests[1]["messages"]
    assistant_turn = next(m for m in history if m.get("tool_calls"))
    assert [c["id"] for c in assistant_turn["tool_calls"]] == [calls[0]["id"], calls[1]["id"]]
    tool_messages = [m for m in history if m["role"] == "tool"]
    assert [m["content"] for m in tool_messages] == ["sunny, 24C", "12:00"]

    tool_step = RunStep.objects.get(run_id=run["id"], type="tool_calls")
    assert tool_step.status == "completed"
    assert [c["function"]["output"] for c in tool_step.step_details["tool_calls"]] == ["sunny, 24C", "12:00"]
    steps = api.get(f"threads/{thread_id}/runs/{run['id']}/steps", params={"order": "asc"}).json()["data"]
    assert [s["type"] for s in steps] == ["tool_calls", "message_creation"]
    assert (
        api.get(f"threads/{thread_id}/runs/{run['id']}/steps/{steps[0]['id']}").json()["id"] == steps[0]["id"]
    )


def test_it_passes_tool_choice_and_parallel_setting(api, provider):
    provider.script(ToolCalls([Call("get_weather", '{"city": "Oslo"}')]))
    assistant_id = new_assistant(api, tools=[WEATHER, TIME])
    thread_id = new_thread(api)
    run = api.post(
        f"threads/{thread_id}/runs",
        json={
            "assistant_id": assistant_id,
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "parallel_tool_calls": False,
        },
    ).json()
    wait_for_status(api, thread_id, run["id"], {"requires_action"})
    sent = provider.requests[-1]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["parallel_tool_calls"] is False


def test_it_rejects_a_tool_choice_naming_no_tool(api, provider):
    assistant_id = new_assistant(api, tools=[WEATHER])
    thread_id = new_thread(api)
    r = api.post(
        f"threads/{thread_id}/runs",
        json={
            "assistant_id": assistant_id,
            "tool_choice": {"type": "function", "function": {"name": "nope"}},
        },
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "tool_choice"
    assert not Run.objects.exists()


def test_it_rejects_outputs_for_a_run_not_waiting(api, provider):
    provider.script(Text("done"))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    wait_for_status(api, thread_id, run["id"], {"completed"})
    r = api.post(
        f"threads/{thread_id}/runs/{run['id']}/submit_tool_outputs",
        json={"tool_outputs": [{"tool_call_id": "call_x", "output": "1"}]},
    )
    assert r.status_code == 400


def test_it_announces_a_call_once_its_name_arrives(api, provider):
    """A provider that sends a call's id and first arguments before its name: the step's first delta
    for the call still carries its name and empty arguments, and no argument text is lost."""
    provider.script(ToolCalls([Call("get_weather", '{"city": "Oslo"}')], head_arguments=4, name_late=True))
    assistant_id = new_assistant(api, tools=[WEATHER])
    thread_id = new_thread(api)
    with api.stream(
        "POST", f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as r:
        events = read_events(r)
    calls = [d["delta"]["step_details"]["tool_calls"][0] for n, d in events if n == "thread.run.step.delta"]
    call_id = dict(events)["thread.run.requires_action"]["required_action"]["submit_tool_outputs"][
        "tool_calls"
    ][0]["id"]
    assert calls[0] == {
        "index": 0,
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": "", "output": None},
    }
    assert "".join(c["function"]["arguments"] for c in calls[1:]) == '{"city": "Oslo"}'
    step = RunStep.objects.get(run__thread_id=thread_id, type="tool_calls")
    assert step.step_details["tool_calls"][0]["function"]["arguments"] == '{"city": "Oslo"}'
