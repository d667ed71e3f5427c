"""Golden event sequences of streamed runs, one per scenario (tests/scenarios.py), on every streaming
path: create with stream, create-and-run with stream, submit_tool_outputs with stream, and GET
…/events. Every event must match the spec; every delta must have OpenAI's exact shape; the deltas
rebuilt must equal what a GET returns; and /events must replay exactly what was streamed."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.contract import check_event
from tests.runs.helpers import collapse, names, read_events
from tests.scenarios import SCENARIOS, Scenario, Stored, stored

Events = list[tuple[str, Any]]

START = ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
TOOL_STEP = ["thread.run.step.created", "thread.run.step.in_progress", "thread.run.step.delta"]
MESSAGE = [
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.delta",
]
REPLY = [*MESSAGE, "thread.message.completed", "thread.run.step.completed"]
# Runs of deltas collapsed (their count depends on timing); cancelled: message deltas left out.
GOLDEN = {
    "plain_text": [*START, *REPLY, "thread.run.completed", "done"],
    "citations": [
        "thread.created",
        *START,
        *TOOL_STEP,
        "thread.run.step.completed",
        *REPLY,
        "thread.run.completed",
        "done",
    ],
    "code_image": [*START, *TOOL_STEP, "thread.run.step.completed", *REPLY, "thread.run.completed", "done"],
    "functions": [
        *START,
        *TOOL_STEP,
        "thread.run.requires_action",
        "done",
        "thread.run.step.completed",
        "thread.run.queued",
        "thread.run.in_progress",
        *REPLY,
        "thread.run.completed",
        "done",
    ],
    "file_search": [*START, *TOOL_STEP, "thread.run.step.completed", *REPLY, "thread.run.completed", "done"],
    "incomplete": [
        *START,
        *MESSAGE,
        "thread.message.incomplete",
        "thread.run.step.completed",
        "thread.run.incomplete",
        "done",
    ],
    "cancelled": [
        *START,
        *MESSAGE[:-1],
        "thread.run.cancelling",
        "thread.run.step.cancelled",
        "thread.message.incomplete",
        "thread.run.cancelled",
        "done",
    ],
    "failed": [
        *START,
        *MESSAGE,
        "thread.run.step.failed",
        "thread.message.incomplete",
        "thread.run.failed",
        "done",
    ],
}
# How each scenario is streamed: between them, every streaming path.
PATHS = {
    "plain_text": "create",
    "citations": "create_and_run",
    "code_image": "events",
    "functions": "create",  # then submit_tool_outputs with stream
    "file_search": "events",
    "incomplete": "create",
    "cancelled": "create",
    "failed": "create",
}
MARKERS = re.compile(r"【|sandbox:/mnt/data/")


def _read(response: httpx.Response, on_delta: Callable[[], None] | None = None) -> Iterator[tuple[str, Any]]:
    """Parses SSE as it arrives; on_delta runs once, at the first message delta."""
    assert response.headers["content-type"].startswith("text/event-stream")
    event = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, line[6:] if line[6:] == "[DONE]" else json.loads(line[6:])
            if on_delta is not None and event == "thread.message.delta":
                on_delta()
                on_delta = None


def _stream(
    api: httpx.Client, path: str, body: dict[str, Any], on_delta: Callable[[], None] | None = None
) -> Events:
    with api.stream("POST", path, json={**body, "stream": True}) as r:
        assert r.status_code == 200
        return list(_read(r, on_delta))


def _replay(api: httpx.Client, thread_id: str, run_id: str) -> Events:
    with api.stream("GET", f"threads/{thread_id}/runs/{run_id}/events") as r:
        return read_events(r)


def _run_scenario(api: httpx.Client, scenario: Scenario, path: str) -> tuple[Events, str, str]:
    """Streams the scenario's run along path; returns its events, thread id and run id."""
    body = {"assistant_id": scenario.assistant_id, **scenario.params}
    if path == "create_and_run":
        events = _stream(api, "threads/runs", {**body, "thread": scenario.thread})
        run = dict(events)["thread.run.created"]
        return events, run["thread_id"], run["id"]
    thread_id = str(scenario.thread_id)
    if path == "events":
        run = api.post(f"threads/{thread_id}/runs", json=body).json()
        return _replay(api, thread_id, run["id"]), thread_id, run["id"]

    def cancel() -> None:
        run = api.get(f"threads/{thread_id}/runs", params={"limit": 1}).json()["data"][0]
        answer = api.post(f"threads/{thread_id}/runs/{run['id']}/cancel").json()
        assert answer["status"] == "cancelling", answer

    events = _stream(api, f"threads/{thread_id}/runs", body, cancel if scenario.cancel else None)
    run = dict(events)["thread.run.created"]
    while events[-2][0] == "thread.run.requires_action" and scenario.outputs:
        calls = events[-2][1]["required_action"]["submit_tool_outputs"]["tool_calls"]
        outputs = [
            {"tool_call_id": c["id"], "output": scenario.outputs[c["function"]["name"]]} for c in calls
        ]
        events += _stream(
            api, f"threads/{thread_id}/runs/{run['id']}/submit_tool_outputs", {"tool_outputs": outputs}
        )
    return events, thread_id, run["id"]


# -- the shape of every delta -----------------------------------------------------------------------


def _check_text_delta(part: dict[str, Any], built: dict[str, Any]) -> None:
    """A text delta: its annotations point into its own text, numbered on from the part's earlier ones."""
    assert part.keys() == {"index", "type", "text"} and part["text"].keys() == {"value", "annotations"}
    value = part["text"]["value"]
    assert value, part
    offset = len(built["value"])
    covered = set()
    for n, annotation in enumerate(part["text"]["annotations"]):
        kind = annotation["type"]
        assert annotation.keys() == {"index", "type", "text", "start_index", "end_index", kind}
        assert annotation["index"] == len(built["annotations"]) + n
        assert annotation[kind].keys() == {"file_id"}
        start, end = annotation["start_index"] - offset, annotation["end_index"] - offset
        assert 0 <= start < end <= len(value) and value[start:end] == annotation["text"]
        covered.update(range(start, end))
    # A marker never arrives cut in two, or apart from its annotation.
    for found in MARKERS.finditer(value):
        assert found.start() in covered, (value, part["text"]["annotations"])


def _rebuild_messages(events: Events) -> dict[str, list[dict[str, Any]]]:
    """Message content as a client rebuilds it from message.created and the deltas (by index)."""
    messages: dict[str, list[dict[str, Any]]] = {}
    for name, data in events:
        if name == "thread.message.created":
            assert data["content"] == []
            messages[data["id"]] = []
        if name != "thread.message.delta":
            continue
        assert data.keys() == {"id", "object", "delta"} and data["delta"].keys() == {"content"}
        [part] = data["delta"]["content"]  # one part per delta
        parts = messages[data["id"]]
        if part["index"] == len(parts):  # a new part, after every earlier one
            if part["type"] == "image_file":
                assert part.keys() == {"index", "type", "image_file"} and part["image_file"].keys() == {
                    "file_id"
                }
                parts.append({"type": "image_file", "image_file": dict(part["image_file"])})
                continue
            parts.append({"type": "text", "text": {"value": "", "annotations": []}})
        assert part["index"] == len(parts) - 1 and part["type"] == "text", (part, parts)
        built = parts[-1]["text"]
        _check_text_delta(part, built)
        built["value"] += part["text"]["value"]
        built["annotations"] += [
            {k: v for k, v in a.items() if k != "index"} for a in part["text"]["annotations"]
        ]
    return messages


HEADS = {
    "function": lambda call: {"name": call["function"]["name"], "arguments": "", "output": None},
    "code_interpreter": lambda call: {"input": "", "outputs": []},
    "file_search": lambda call: {},
}


def _rebuild_calls(events: Events) -> dict[str, list[dict[str, Any]]]:
    """Tool calls as a client rebuilds them from the step deltas: announced first, then their text."""
    steps: dict[str, list[dict[str, Any]]] = {}
    for name, data in events:
        if name != "thread.run.step.delta":
            continue
        assert data.keys() == {"id", "object", "delta"}
        details = data["delta"]["step_details"]
        assert data["delta"].keys() == {"step_details"} and details.keys() == {"type", "tool_calls"}
        [call] = details["tool_calls"]
        kind = call["type"]
        calls = steps.setdefault(data["id"], [])
        if call["index"] == len(calls):  # its first delta: id, type, name, nothing streamed yet
            assert call.keys() == {"index", "id", "type", kind} and call[kind] == HEADS[kind](call)
            calls.append(copy.deepcopy(call))
            continue
        assert call["index"] < len(calls) and "id" not in call and call.keys() == {"index", "type", kind}
        built = calls[call["index"]]
        assert built["type"] == kind
        if kind == "function":
            assert call["function"].keys() == {"arguments"} and call["function"]["arguments"]
            built["function"]["arguments"] += call["function"]["arguments"]
        elif "input" in call["code_interpreter"]:
            assert call["code_interpreter"].keys() == {"input"} and call["code_interpreter"]["input"]
            built["code_interpreter"]["input"] += call["code_interpreter"]["input"]
        else:
            assert call["code_interpreter"].keys() == {"outputs"}
            built["code_interpreter"]["outputs"] += call["code_interpreter"]["outputs"]
    return steps


def _check_against_get(events: Events, expected: Stored) -> None:
    # The last event about each object is the object as a GET returns it.
    last: dict[str, Any] = {}
    for _, data in events:
        if isinstance(data, dict) and data.get("object") in (
            "thread.run",
            "thread.run.step",
            "thread.message",
        ):
            last[data["id"]] = data
    assert last[expected.run["id"]] == expected.run
    for obj in [*expected.messages, *expected.steps]:
        assert last[obj["id"]] == obj

    assert _rebuild_messages(events) == {m["id"]: m["content"] for m in expected.messages}

    streamed = _rebuild_calls(events)
    tool_steps = [s for s in expected.steps if s["type"] == "tool_calls"]
    assert list(streamed) == [s["id"] for s in tool_steps]
    for step in tool_steps:
        calls = step["step_details"]["tool_calls"]
        assert len(streamed[step["id"]]) == len(calls)
        for index, (built, call) in enumerate(zip(streamed[step["id"]], calls, strict=True)):
            assert (built["index"], built["id"], built["type"]) == (index, call["id"], call["type"])
            if call["type"] == "function":
                assert built["function"] == {**call["function"], "output": None}
            elif call["type"] == "code_interpreter":
                outputs = [{"index": i, **o} for i, o in enumerate(call["code_interpreter"]["outputs"])]
                assert built["code_interpreter"] == {
                    "input": call["code_interpreter"]["input"],
                    "outputs": outputs,
                }
            else:
                assert built["file_search"] == {}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_it_streams_each_scenario_as_openai_did(api, provider, settings, name):  # type: ignore[no-untyped-def]
    settings.RUN_STREAM_COALESCE_MS = 0  # a delta per provider read: the splits the scenarios script stay
    scenario = SCENARIOS[name](api, provider)
    events, thread_id, run_id = _run_scenario(api, scenario, PATHS[name])

    for event, data in events:
        check_event(event, data)
    sequence = names(events)
    if name == "cancelled":
        sequence = [n for n in sequence if n != "thread.message.delta"]
    assert collapse(sequence) == GOLDEN[name]
    expected = stored(api, thread_id, run_id)
    assert expected.run["status"] == scenario.status
    _check_against_get(events, expected)
    # GET …/events replays exactly what the POSTs streamed.
    assert _replay(api, thread_id, run_id) == events
