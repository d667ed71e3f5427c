"""The requests of Open Responses' compliance suite (openresponses/openresponses, bin/compliance-test.ts),
written here from its list (basic, streaming, system prompt, tool calling, streamed tool calling,
image input, multi-turn), with its checks: output present, status completed, stream events valid
(here: against our contract) and the function_call events of a streamed call. The suite itself needs
its generated zod schemas and bun; it could not be run here (docs/api.md says so)."""

from __future__ import annotations

import pytest

from tests.fakeprovider import Call, Text, ToolCalls
from tests.responses.helpers import names, read_events

PIXEL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a location",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "The city and state"}},
        "required": ["location"],
    },
}
CASES = {
    "basic-response": [{"type": "message", "role": "user", "content": "Say hello in exactly 3 words."}],
    "system-prompt": [
        {"type": "message", "role": "system", "content": "You are a pirate."},
        {"type": "message", "role": "user", "content": "Say hello."},
    ],
    "image-input": [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What do you see?"},
                {"type": "input_image", "image_url": PIXEL},
            ],
        }
    ],
    "multi-turn": [
        {"type": "message", "role": "user", "content": "My name is Alice."},
        {"type": "message", "role": "assistant", "content": "Hello Alice!"},
        {"type": "message", "role": "user", "content": "What is my name?"},
    ],
}


@pytest.mark.parametrize("case", list(CASES))
def test_it_answers_the_suites_requests(api, provider, case):
    provider.script(Text("Ahoy there, matey."))
    body = api.post("responses", json={"model": "fake-model", "input": CASES[case]}).json()
    assert body["status"] == "completed" and body["output"]


def test_it_streams_the_suites_request(api, provider):
    provider.script(Text("1, 2, 3, 4, 5"))
    request = {
        "model": "fake-model",
        "input": [{"type": "message", "role": "user", "content": "Count."}],
        "stream": True,
    }
    with api.stream("POST", "responses", json=request) as r:
        events = read_events(r)
    assert dict(events)["response.completed"]["response"]["status"] == "completed"


def test_it_calls_the_suites_tool(api, provider):
    provider.script(ToolCalls([Call("get_weather", '{"location": "San Francisco, CA"}')]))
    request = {
        "model": "fake-model",
        "input": "What's the weather like in San Francisco?",
        "tools": [WEATHER],
    }
    body = api.post("responses", json=request).json()
    assert any(item["type"] == "function_call" for item in body["output"])

    provider.script(ToolCalls([Call("get_weather", '{"location": "San Francisco, CA"}')]))
    with api.stream("POST", "responses", json={**request, "stream": True}) as r:
        events = read_events(r)
    seen = names(events)
    assert (
        "response.function_call_arguments.delta" in seen and "response.function_call_arguments.done" in seen
    )
    for kind in ("response.output_item.added", "response.output_item.done"):
        assert any(n == kind and d["item"]["type"] == "function_call" for n, d in events)
