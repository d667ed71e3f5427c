from __future__ import annotations

from console.passthrough.models import ForwardedUsage
from console.responses.models import Response
from tests.fakeprovider import Call, Text, ToolCalls
from tests.responses.helpers import WEATHER_TOOL


def test_it_answers_a_plain_response(api, provider, owner):
    provider.script(Text("Hello there, friend.", usage=(12, 4)))
    r = api.post("responses", json={"model": "fake-model", "input": "Hi?", "instructions": "Be terse."})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "response" and body["id"].startswith("resp_")
    assert body["status"] == "completed" and body["completed_at"] is not None
    [message] = body["output"]
    assert (
        message["type"] == "message" and message["role"] == "assistant" and message["status"] == "completed"
    )
    assert message["content"] == [
        {"type": "output_text", "text": "Hello there, friend.", "annotations": [], "logprobs": []}
    ]
    assert body["usage"]["input_tokens"] == 12 and body["usage"]["output_tokens"] == 4
    assert body["usage"]["total_tokens"] == 16
    assert body["instructions"] == "Be terse." and body["store"] is True and body["background"] is False

    sent = provider.requests[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Hi?"},
    ]

    row = Response.objects.get(pk=body["id"])
    assert row.status == "completed" and row.output == body["output"]
    assert api.get(f"responses/{body['id']}").json() == body
    usage = ForwardedUsage.objects.get(project=owner.project, path="/v1/responses")
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12, 4, 16)


def test_it_continues_from_a_previous_response(api, provider):
    provider.script(Text("First answer."), Text("Second answer."))
    first = api.post(
        "responses", json={"model": "fake-model", "input": "One?", "instructions": "Old."}
    ).json()
    second = api.post(
        "responses",
        json={
            "model": "fake-model",
            "input": "Two?",
            "previous_response_id": first["id"],
            "instructions": "New.",
        },
    ).json()
    assert second["status"] == "completed" and second["previous_response_id"] == first["id"]
    # Instructions are not carried over; the earlier input and output are.
    assert provider.requests[-1]["messages"] == [
        {"role": "system", "content": "New."},
        {"role": "user", "content": "One?"},
        {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": "Two?"},
    ]
    items = api.get(f"responses/{second['id']}/input_items", params={"order": "asc"}).json()
    assert [i["type"] for i in items["data"]] == ["message", "message", "message"]
    assert items["data"][-1]["content"] == [{"type": "input_text", "text": "Two?"}]


def test_it_keeps_nothing_when_store_is_false(api, provider):
    provider.script(Text("Gone."))
    body = api.post("responses", json={"model": "fake-model", "input": "x", "store": False}).json()
    assert body["status"] == "completed" and body["store"] is False
    assert body["output"][0]["content"][0]["text"] == "Gone."
    assert not Response.objects.filter(pk=body["id"]).exists()
    assert api.get(f"responses/{body['id']}").status_code == 404
    r = api.post("responses", json={"model": "fake-model", "input": "y", "previous_response_id": body["id"]})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "previous_response_not_found"


def test_it_round_trips_a_function_call(api, provider):
    provider.script(
        ToolCalls([Call("get_weather", '{"city": "Paris"}', id="call_abc")]), Text("Sunny in Paris.")
    )
    first = api.post(
        "responses", json={"model": "fake-model", "input": "Weather in Paris?", "tools": [WEATHER_TOOL]}
    ).json()
    assert first["status"] == "completed"
    [call] = first["output"]
    assert call["type"] == "function_call" and call["id"].startswith("fc_")
    assert call["call_id"] == "call_abc" and call["name"] == "get_weather"
    assert call["arguments"] == '{"city": "Paris"}' and call["status"] == "completed"
    sent = provider.requests[-1]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": WEATHER_TOOL["parameters"],
            },
        }
    ]
    assert sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is True

    second = api.post(
        "responses",
        json={
            "model": "fake-model",
            "previous_response_id": first["id"],
            "tools": [WEATHER_TOOL],
            "input": [{"type": "function_call_output", "call_id": "call_abc", "output": "22C, sunny"}],
        },
    ).json()
    assert second["status"] == "completed", second
    assert second["output"][0]["content"][0]["text"] == "Sunny in Paris."
    messages = provider.requests[-1]["messages"]
    assert messages[-2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_abc",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_abc", "content": "22C, sunny"}


def test_it_passes_the_options_to_the_provider(api, provider):
    provider.script(Text('{"answer": 4}'))
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    body = api.post(
        "responses",
        json={
            "model": "fake-model",
            "input": [
                {"role": "developer", "content": "Answer in JSON."},
                {"role": "user", "content": "2+2?"},
            ],
            "text": {"format": {"type": "json_schema", "name": "sum", "schema": schema, "strict": True}},
            "temperature": 0.2,
            "top_p": 0.9,
            "max_output_tokens": 64,
            "reasoning": {"effort": "low"},
            "metadata": {"k": "v"},
            "user": "u-1",
        },
    ).json()
    assert body["status"] == "completed"
    assert body["text"]["format"] == {"type": "json_schema", "name": "sum", "schema": schema, "strict": True}
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9 and body["max_output_tokens"] == 64
    assert body["metadata"] == {"k": "v"} and body["reasoning"]["effort"] == "low"
    sent = provider.requests[-1]
    assert sent["messages"][0] == {"role": "system", "content": "Answer in JSON."}
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "sum", "schema": schema, "strict": True},
    }
    assert sent["temperature"] == 0.2 and sent["top_p"] == 0.9 and sent["max_completion_tokens"] == 64
    assert sent["reasoning_effort"] == "low" and sent["user"] == "u-1"


def test_it_ends_incomplete_at_max_output_tokens(api, provider):
    provider.script(Text("Cut sho", finish_reason="length"))
    body = api.post(
        "responses", json={"model": "fake-model", "input": "Long story?", "max_output_tokens": 16}
    ).json()
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["output"][0]["status"] == "incomplete"


def test_it_fails_with_the_providers_error(api, provider):
    from tests.fakeprovider import Error

    provider.script(Error(400, "model refuses"))
    body = api.post("responses", json={"model": "fake-model", "input": "x"}).json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == "invalid_prompt" and "model refuses" in body["error"]["message"]


def test_it_answers_context_length_exceeded_when_truncation_is_disabled(api, provider):
    long = "word " * 130_000
    r = api.post("responses", json={"model": "fake-model", "input": long})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "context_length_exceeded"
    assert provider.requests == []


def test_it_truncates_the_oldest_items_with_truncation_auto(api, provider):
    provider.script(Text("ok"))
    old = "word " * 130_000
    body = api.post(
        "responses",
        json={
            "model": "fake-model",
            "truncation": "auto",
            "input": [{"role": "user", "content": old}, {"role": "user", "content": "newest"}],
        },
    ).json()
    assert body["status"] == "completed" and body["truncation"] == "auto"
    assert provider.requests[-1]["messages"] == [{"role": "user", "content": "newest"}]


def test_it_counts_input_tokens(api, provider):
    r = api.post("responses/input_tokens", json={"model": "fake-model", "input": "Hello there"})
    assert r.status_code == 200
    assert r.json()["object"] == "response.input_tokens" and r.json()["input_tokens"] > 0


def test_it_deletes_a_response(api, provider):
    provider.script(Text("x"))
    body = api.post("responses", json={"model": "fake-model", "input": "x"}).json()
    r = api.delete(f"responses/{body['id']}")
    assert r.status_code == 200 and r.json()["deleted"] is True
    assert not Response.objects.filter(pk=body["id"]).exists()
    assert api.get(f"responses/{body['id']}").status_code == 404


def test_it_hides_responses_of_other_projects(api, outsider_api, provider):
    provider.script(Text("mine"))
    body = api.post("responses", json={"model": "fake-model", "input": "x"}).json()
    for r in (
        outsider_api.get(f"responses/{body['id']}"),
        outsider_api.get(f"responses/{body['id']}/input_items"),
        outsider_api.delete(f"responses/{body['id']}"),
        outsider_api.post(f"responses/{body['id']}/cancel"),
    ):
        assert r.status_code == 404
        assert r.json()["error"]["message"] == f"Response with id '{body['id']}' not found."
    assert Response.objects.filter(pk=body["id"]).exists()
