from __future__ import annotations

import threading

from console.responses.models import Response
from tests.fakeprovider import Call, Drop, Text, ToolCalls
from tests.responses.helpers import (
    TEXT_RESPONSE,
    WEATHER_TOOL,
    collapse,
    names,
    read_events,
    sequence_numbers,
)
from tests.waiting import wait_until


def test_it_streams_a_text_response_event_for_event(api, provider):
    provider.script(Text("Hello there, friend.", usage=(9, 5)))
    with api.stream("POST", "responses", json={"model": "fake-model", "input": "Hi", "stream": True}) as r:
        assert r.status_code == 200
        events = read_events(r)
    assert collapse(names(events)) == TEXT_RESPONSE
    assert events[-1] == ("", "[DONE]")
    numbers = sequence_numbers(events)
    assert numbers == list(range(len(numbers)))
    data = dict(events)
    assert data["response.created"]["response"]["status"] == "in_progress"
    deltas = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
    assert deltas == "Hello there, friend."
    assert data["response.output_text.done"]["text"] == "Hello there, friend."
    completed = data["response.completed"]["response"]
    assert completed["status"] == "completed" and completed["usage"]["total_tokens"] == 14
    item_id = data["response.output_item.added"]["item"]["id"]
    assert {d["item_id"] for n, d in events if n == "response.output_text.delta"} == {item_id}
    assert completed["output"][0]["id"] == item_id
    assert Response.objects.get(pk=completed["id"]).status == "completed"


def test_it_streams_function_calls(api, provider):
    provider.script(
        ToolCalls(
            [
                Call("get_weather", '{"city": "Paris"}', id="call_1"),
                Call("get_weather", '{"city": "Rome"}', id="call_2"),
            ]
        )
    )
    with api.stream(
        "POST",
        "responses",
        json={"model": "fake-model", "input": "Weather?", "tools": [WEATHER_TOOL], "stream": True},
    ) as r:
        events = read_events(r)
    assert collapse(names(events)) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
        "",
    ]
    done = [d for n, d in events if n == "response.function_call_arguments.done"]
    assert [(d["output_index"], d["name"], d["arguments"]) for d in done] == [
        (0, "get_weather", '{"city": "Paris"}'),
        (1, "get_weather", '{"city": "Rome"}'),
    ]
    output = dict(events)["response.completed"]["response"]["output"]
    assert [(o["type"], o["call_id"]) for o in output] == [
        ("function_call", "call_1"),
        ("function_call", "call_2"),
    ]


def test_it_ends_a_stream_with_response_failed_when_the_provider_drops(api, provider):
    provider.script(Drop(after_chunks=2), Drop(after_chunks=2), Drop(after_chunks=2))
    with api.stream("POST", "responses", json={"model": "fake-model", "input": "x", "stream": True}) as r:
        events = read_events(r)
    assert names(events)[-2:] == ["response.failed", ""]
    failed = dict(events)["response.failed"]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"


def test_it_resumes_a_background_stream_after_a_sequence_number(api, provider):
    gate = threading.Event()
    provider.script(Text("one two three four", gate=gate))
    created = api.post("responses", json={"model": "fake-model", "input": "x", "background": True}).json()
    assert created["status"] == "queued" and created["background"] is True
    wait_until(lambda: Response.objects.get(pk=created["id"]).status == "in_progress", what="claimed")
    gate.set()
    wait_until(lambda: Response.objects.get(pk=created["id"]).status == "completed", what="completed")
    with api.stream("GET", f"responses/{created['id']}", params={"stream": "true"}) as r:
        everything = read_events(r)
    assert names(everything)[:3] == ["response.created", "response.queued", "response.in_progress"]
    numbers = sequence_numbers(everything)
    assert numbers == list(range(len(numbers)))
    with api.stream("GET", f"responses/{created['id']}", params={"stream": "true", "starting_after": 4}) as r:
        rest = read_events(r)
    assert sequence_numbers(rest) == numbers[5:]
    assert rest[-1] == ("", "[DONE]") and names(rest)[-2] == "response.completed"


def test_it_streams_a_background_response_as_it_is_created(api, provider):
    provider.script(Text("Background text."))
    with api.stream(
        "POST", "responses", json={"model": "fake-model", "input": "x", "background": True, "stream": True}
    ) as r:
        events = read_events(r)
    assert collapse(names(events)) == [TEXT_RESPONSE[0], "response.queued", *TEXT_RESPONSE[1:]]
    assert dict(events)["response.created"]["response"]["status"] == "queued"
